"""Session-wide fixtures: the real engines (a private PostgreSQL server, a local Spark).

Engines are started once per test session, lazily, by the tests themselves (only when a
test asks for them): PostgreSQL from Debian's server binaries with initdb + pg_ctl on a
free loopback port, Spark in local mode on the Java that `.ci/install-engines.sh`
installs. When an engine truly cannot be found (no server binaries, no Java 17+, no
psycopg or pyspark), its tests are skipped with the reason, except under CI=true,
where `.ci/run` has installed everything and a missing engine FAILS the tests.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engines import EngineUnavailable, start_postgres  # noqa: E402  (tests/engines.py)

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _unavailable(what: str, err: BaseException):
    message = f"{what} unavailable: {err}"
    if IN_CI:
        pytest.fail(message + " (CI=true: .ci/run installs every engine, so this is a failure)", pytrace=False)
    pytest.skip(message)


# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory):
    """A private PostgreSQL server for the whole session: dict with dsn, port, datadir, bindir, log."""
    try:
        import psycopg  # noqa: F401
    except ImportError as err:
        _unavailable("PostgreSQL (psycopg not installed: pip install -e '.[postgres]')", err)
    try:
        server = start_postgres(tmp_path_factory.mktemp("pg"))
    except EngineUnavailable as err:
        _unavailable("PostgreSQL", err)
    try:
        yield server
    finally:
        server["stop"]()


@pytest.fixture(scope="session")
def pg_dsn(pg_server):
    """libpq DSN of the private server (superuser `postgres`, database `postgres`, trust auth).
    The roles of the reference project's access definitions exist on it, as on any warehouse
    that runs the project (a run stops with CDP910 when one is missing; cdpc never creates roles)."""
    _reference_roles(pg_server["dsn"])
    return pg_server["dsn"]


def _reference_roles(dsn: str) -> None:
    import psycopg
    import yaml

    definitions = Path(__file__).resolve().parent.parent / "definitions" / "access"
    roles = sorted({doc["role"] for path in definitions.glob("*.yaml")
                    for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc})
    with psycopg.connect(dsn, autocommit=True) as admin:
        known = {r[0] for r in admin.execute("SELECT rolname FROM pg_roles")}
        for role in roles:
            if role not in known:
                admin.execute(f'CREATE ROLE "{role}" NOLOGIN')


@pytest.fixture
def pg_conn(pg_dsn):
    """A fresh autocommit psycopg connection per test."""
    import psycopg

    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture
def pg_database(pg_dsn):
    """The DSN of a new, empty database of the private server (dropped after the test)."""
    import uuid

    import psycopg

    name = f"cdpc_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield pg_dsn.replace("dbname=postgres", f"dbname={name}")
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_engine(pg_database):
    """A PostgresEngine connected to a fresh database."""
    from compiler.run.engines.postgres import PostgresEngine

    engine = PostgresEngine(pg_database)
    try:
        yield engine
    finally:
        engine.close()


# --------------------------------------------------------------------------- Spark


@pytest.fixture(scope="session")
def spark_warehouse(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("spark") / "warehouse"


@pytest.fixture(scope="session")
def spark_engine(spark_warehouse):
    """cdpc's SparkEngine on a local[2] session that lives for the whole test session.

    The engine starts the session itself (its own settings: UTC, TIMESTAMP_NTZ, no UI);
    later SparkEngine(warehouse=spark_warehouse) calls in the same process reuse it.
    """
    from compiler.run.engines import EngineError

    try:
        import pyspark  # noqa: F401
    except ImportError as err:
        _unavailable("Spark (pyspark not installed: pip install -e '.[spark]')", err)
    from compiler.run.engines.spark import SparkEngine, find_java_home

    try:
        find_java_home()
    except EngineError as err:
        _unavailable("Spark", err)
    engine = SparkEngine(master="local[2]", warehouse=spark_warehouse)  # any other failure is a real error
    try:
        yield engine
    finally:
        engine.close()


@pytest.fixture(scope="session")
def spark(spark_engine):
    """The SparkSession behind spark_engine."""
    return spark_engine.session


# --------------------------------------------------------------------------- canary data


@pytest.fixture(scope="session")
def canary_data(tmp_path_factory):
    """The reference sample with canaries planted in every PHI and PII field (tests/canary.py):
    a namespace with `canaries`, `data` (the planted files), `variant` (other PHI where the
    reference's consent suppression stays the same, shuffled rows), `variant_free` (any
    PHI changed, shuffled rows) and `secret_file` (a file holding a PHI canary)."""
    from types import SimpleNamespace

    from canary import ROOT_DATA, plant, plant_variant

    root = tmp_path_factory.mktemp("canary")
    canaries = plant(ROOT_DATA, root / "data")
    plant_variant(root / "data", root / "variant", keep_suppression=True)
    plant_variant(root / "data", root / "variant_free", keep_suppression=False)
    secret = root / "secret.csv"
    secret.write_text("secret\ncanary-phi-secretfile-000001\n", encoding="utf-8")
    return SimpleNamespace(canaries=canaries, data=root / "data", variant=root / "variant",
                           variant_free=root / "variant_free", secret_file=secret)


def pytest_terminal_summary(terminalreporter):
    """The adversarial corpus's tally (tests/test_adversarial.py), when it ran."""
    try:
        from canary import TALLY
    except ImportError:
        return
    if TALLY:
        from canary import tally_lines

        terminalreporter.section("adversarial corpus")
        for line in tally_lines():
            terminalreporter.write_line(line)
