"""cdpc's identity stage beside Splink's connected components, on the same identifier links.

For each size, in one process: `cdpc run` of the reference project on DuckDB over the
export-shaped data of benchmarks/synth.py (a temporary database file by default, as users
keep their results; `--in-memory` for none), then, from the staged records the run kept,
the identifier links its identity stage works on: one (record, normalized identifier value)
pair per identifier a record holds, normalized and blocklisted with cdpc's own SQL
(compiler/emit/identity.py), records numbered 1..n. Splink's connected components
(`splink.clustering.cluster_pairwise_predictions_at_threshold`, no threshold: every edge
links) runs on them in an in-memory DuckDB of the same process: nodes are the records,
edges join each record to the first record holding the same value (links minus distinct
values). It prints both times and their ratio.

The two do not do the same work: cdpc's stage also normalizes the identifiers from the
staged records, resolves one identifier type at a time in priority order, refuses values
that would break `max_per_profile` (conflicts), picks profile ids and writes the map. So
beside Splink's own time the table shows the time to build its input (links and edges,
in DuckDB): Splink + input is the nearest like-for-like figure. The last column compares
CPU seconds (all threads) of the identity stage and of Splink, which move less than wall
time when other jobs share the machine.

    pip install -e '.[bench]'                                   # Splink 5
    python benchmarks/bench_identity.py                         # 10k and 100k members
    python benchmarks/bench_identity.py --members 300000 --in-memory

Generated data is kept under the temporary directory (`--cache`), keyed by the generator's
source, so a second run of the same size skips generating it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import synth  # noqa: E402

AS_OF = dt.datetime(2026, 11, 20)


def cpu_seconds() -> float:
    """User and system CPU seconds of this process so far, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class StageCpu:
    """A run's progress callback that adds up CPU seconds per stage (the layer before `:`
    in the progress message): they move less than wall time on a machine others share."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        # before its first message a run reads (and if need be rewrites) the raw files
        self.stage, self.mark = "reading raw files", cpu_seconds()

    def __call__(self, message: str) -> None:
        now = cpu_seconds()
        self.seconds[self.stage] = self.seconds.get(self.stage, 0.0) + now - self.mark
        self.stage, self.mark = message.split(":")[0], now


def link_statements(project) -> list[str]:
    """DuckDB statements that build TEMP tables bench_nodes(node), bench_links(node, id_type,
    id_value) and bench_edges(node_l, node_r) from the staged records of a finished run."""
    from sqlglot import exp

    from compiler.dialects import DIALECTS, render
    from compiler.emit.identity import is_blocked, normalized, record_key
    from compiler.emit.sql import alias, col, lit, table, text

    defs = project.definitions
    identity = defs.identity
    staging = defs.project.schemas.staging
    duckdb = DIALECTS["duckdb"]
    parts = []
    for source, mapping in identity.sources.items():
        contract = defs.contracts[source]
        for id_type, field in mapping.items():
            value = normalized(identity, id_type, col(field))
            blocked = is_blocked(identity, id_type, col(field))
            if blocked is not None:  # a blocklisted value is no identifier (NULL), as in the stage
                value = exp.Case(ifs=[exp.If(this=blocked, true=exp.Null())], default=value)
            parts.append(exp.select(alias(lit(source), "source"), alias(record_key(contract), "record_key"),
                                    alias(lit(id_type), "id_type"), alias(text(value), "id_value"))
                         .from_(table(staging, source)))
    union = " UNION ALL ".join(render(p, duckdb) for p in parts)
    return [
        f"CREATE OR REPLACE TEMP TABLE bench_raw AS {union}",
        # every staged record is a node, with or without an identifier; numbered like cdpc's rid
        "CREATE OR REPLACE TEMP TABLE bench_nodes AS SELECT source, record_key, "
        "dense_rank() OVER (ORDER BY source, record_key) AS node FROM (SELECT DISTINCT source, record_key FROM bench_raw)",
        "CREATE OR REPLACE TEMP TABLE bench_links AS SELECT DISTINCT n.node, r.id_type, r.id_value "
        "FROM bench_raw r JOIN bench_nodes n USING (source, record_key) WHERE r.id_value IS NOT NULL",
        "CREATE OR REPLACE TEMP TABLE bench_edges AS WITH v AS (SELECT id_type, id_value, min(node) AS root "
        "FROM bench_links GROUP BY id_type, id_value) SELECT v.root AS node_l, l.node AS node_r "
        "FROM bench_links l JOIN v USING (id_type, id_value) WHERE l.node <> v.root",
        "DROP TABLE bench_raw",
    ]


def extract_links(connection, project) -> dict:
    """Build the links on `connection` (the run's own DuckDB, still open); return the nodes
    and edges as Arrow tables, their counts and the seconds it took."""
    started = time.perf_counter()
    for statement in link_statements(project):
        connection.execute(statement)
    counts = connection.execute(
        "SELECT (SELECT count(*) FROM bench_nodes), (SELECT count(*) FROM bench_links), "
        "(SELECT count(*) FROM (SELECT DISTINCT id_type, id_value FROM bench_links)), "
        "(SELECT count(*) FROM bench_edges)").fetchall()[0]
    nodes = _arrow(connection.sql("SELECT node FROM bench_nodes"))
    edges = _arrow(connection.sql("SELECT node_l, node_r FROM bench_edges"))
    seconds = time.perf_counter() - started
    for name in ("bench_nodes", "bench_links", "bench_edges"):
        connection.execute(f"DROP TABLE {name}")
    return {"nodes": nodes, "edges": edges, "records": counts[0], "links": counts[1], "values": counts[2],
            "edge_count": counts[3], "seconds": seconds}


def _arrow(relation):
    """A relation as an Arrow table (DuckDB 2 calls arrow() to_arrow_table())."""
    return relation.to_arrow_table() if hasattr(relation, "to_arrow_table") else relation.arrow()


def splink_components(nodes, edges) -> dict:
    """Splink 5's connected components over the edges, in a fresh in-memory DuckDB."""
    try:
        import duckdb
        from splink import DuckDBAPI
        from splink.clustering import cluster_pairwise_predictions_at_threshold
    except ImportError:
        raise SystemExit("Splink is not installed: pip install -e '.[bench]'") from None
    connection = duckdb.connect()
    connection.register("nodes_arrow", nodes)
    connection.register("edges_arrow", edges)
    connection.execute("CREATE TABLE bench_nodes AS SELECT * FROM nodes_arrow")
    connection.execute("CREATE TABLE bench_edges AS SELECT * FROM edges_arrow")
    connection.unregister("nodes_arrow")
    connection.unregister("edges_arrow")
    db_api = DuckDBAPI(connection)
    started, cpu = time.perf_counter(), cpu_seconds()
    clusters = cluster_pairwise_predictions_at_threshold(
        "bench_nodes", "bench_edges", db_api, node_id_column_name="node",
        edge_id_column_name_left="node_l", edge_id_column_name_right="node_r")
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    components = connection.execute(f"SELECT count(DISTINCT cluster_id) FROM {clusters.physical_name}").fetchall()[0][0]
    connection.close()
    return {"seconds": seconds, "cpu": cpu, "components": components}


def measure(members: int, cache: Path, in_memory: bool, shape: str = "export") -> dict:
    from compiler.project import require_valid
    from compiler.run.engines import open_engine
    from compiler.run.runner import run_project

    data = synth.cached_dataset(cache, members, shape)
    project = require_valid(ROOT)
    with tempfile.TemporaryDirectory(prefix="cdpc-bench-identity-") as scratch:
        engine = open_engine("duckdb", db=None if in_memory else str(Path(scratch) / "warehouse.duckdb"))
        try:
            stages = StageCpu()
            result = run_project(project, engine, data, AS_OF, progress=stages)
            stages("done")
            links = extract_links(engine.connection, project)
        finally:
            engine.close()
    splink = splink_components(links.pop("nodes"), links.pop("edges"))
    rounds = {k.removeprefix("components_"): v for k, v in result.iterations.items() if k.startswith("components_")}
    return {"members": members, "identity": result.seconds["identity"], "identity_cpu": stages.seconds["identity"],
            "profiles": result.stats.profiles,
            "conflicts": result.stats.conflicts, "rounds": rounds, "splink": splink, **links}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", default="10000,100000", help="comma-separated sizes (default 10000,100000)")
    parser.add_argument("--in-memory", action="store_true", help="run cdpc in memory instead of on a database file")
    parser.add_argument("--shape", choices=synth.SHAPES, default="export", help="the generator's shape (default export)")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "cdpc-bench-data",
                        help="where generated raw data is kept between runs")
    options = parser.parse_args()
    where = "in memory" if options.in_memory else "on a database file"
    print(f"identity vs Splink connected components: DuckDB {where}, {options.shape} data, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.2f}")
    header = ["members", "records", "links", "values", "edges", "cdpc identity s", "rounds/pass", "profiles",
              "conflicts", "links+edges s", "Splink CC s", "components", "identity/Splink", "identity/(Splink+input)",
              "CPU s identity/Splink"]
    rows = []
    for members in (int(s) for s in options.members.split(",")):
        m = measure(members, options.cache, options.in_memory, options.shape)
        splink = m["splink"]["seconds"]
        rows.append([f"{members:,}", f"{m['records']:,}", f"{m['links']:,}", f"{m['values']:,}",
                     f"{m['edge_count']:,}", f"{m['identity']:.1f}", "/".join(str(v) for v in m["rounds"].values()),
                     f"{m['profiles']:,}", f"{m['conflicts']:,}", f"{m['seconds']:.1f}", f"{splink:.1f}",
                     f"{m['splink']['components']:,}", f"{m['identity'] / splink:.1f}x",
                     f"{m['identity'] / (splink + m['seconds']):.1f}x",
                     f"{m['identity_cpu']:.1f}/{m['splink']['cpu']:.1f} = {m['identity_cpu'] / m['splink']['cpu']:.1f}x"])
        print(" | ".join(rows[-1]), flush=True)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print()
    print("  ".join(h.rjust(w) for h, w in zip(header, widths)))
    for row in rows:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths)))


if __name__ == "__main__":
    main()
