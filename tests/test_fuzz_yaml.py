"""Hypothesis: whatever YAML text or structure a team writes, cdpc answers with diagnostics
(exit 0 or 1), never a traceback or an internal error."""

from __future__ import annotations

import copy
import tempfile
import textwrap
from pathlib import Path

import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings, strategies as st

from compiler.cli import cli
from compiler.model import KINDS
from validate_helpers import BASE, make_project

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
KEYS = sorted({alias or name for model in KINDS.values() for name, info in model.model_fields.items()
               for alias in [info.alias]} | {"type", "field", "from", "strategy", "channels", "segment", "purpose",
                                             "min", "max", "pattern", "pii", "phi", "accepted_values", "required"})
NAMES = ["orders", "consents", "email", "amount", "spend", "big_spender", "vip", "email_marketing", "customer", "x"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True),
                    st.text(max_size=30), st.sampled_from(NAMES + KEYS), st.dates(),
                    st.sampled_from(["sum(amount)", "count(*)", "spend > 1", "a.b", "sum(", "1;2", "x over ()",
                                     "decimal(10,2)", "1.0.0", "24h", "[", "*", "select 1", "now()"]))
structures = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), inner, max_size=5)),
    max_leaves=20)


def run_validate(root: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", "--project", str(root)])
    assert result.exit_code in (0, 1), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output and "internal error" not in result.output


def with_file(text: bytes | str, rel: str = "definitions/fuzz.yaml") -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = make_project(Path(tmp))
        (root / rel).write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
        run_validate(root)


yaml_alphabet = st.sampled_from(list("abkind:name-_ []{},'\"\n\t#&*!|>%@`?~.0123456789") + ["---", "\n  ", ": ", "- "])


@SETTINGS
@given(st.lists(yaml_alphabet, max_size=80).map("".join))
def test_yaml_like_text(text):
    with_file(text)


@SETTINGS
@given(st.binary(max_size=200))
def test_arbitrary_bytes(raw):
    with_file(raw)


@SETTINGS
@given(st.sampled_from(sorted(KINDS)), st.dictionaries(st.sampled_from(KEYS), structures, max_size=8))
def test_structures_of_every_kind(kind, body):
    document = {"kind": kind, "name": "fuzz", "version": "1.0.0", **body}
    with_file(yaml.safe_dump(document, allow_unicode=True))


def paths(value, prefix=()):
    """Every path into a YAML value."""
    yield prefix
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from paths(inner, prefix + (key,))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from paths(inner, prefix + (index,))


BASE_DOCS = {rel: yaml.safe_load(textwrap.dedent(text)) for rel, text in BASE.items()}


@SETTINGS
@given(st.data())
def test_one_value_of_a_valid_project_replaced(data):
    rel = data.draw(st.sampled_from(sorted(BASE_DOCS)))
    document = copy.deepcopy(BASE_DOCS[rel])
    path = data.draw(st.sampled_from([p for p in paths(document) if p]))
    target = document
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = data.draw(structures)
    with tempfile.TemporaryDirectory() as tmp:
        root = make_project(Path(tmp))
        (root / rel).write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
        run_validate(root)


sql_tokens = st.sampled_from(["sum(", "count(*)", "max(", ")", "(", "amount", "spend", "status", "'paid'", "=", ">",
                              " and ", " or ", " not ", "case when ", " then ", " else ", " end", "1", "2.5", ",",
                              "current_date", "interval 3 day", "-", "+", "*", "::int", "cast(", " as date", "[", "]",
                              "?", "$1", "|", "||", "over (", "partition by ", "filter (where ", "select ", ";",
                              " is null", "coalesce(", "x -> x", "{", "}", ":", "\"", "`", "e.", "null"])


@SETTINGS
@given(st.sampled_from(["where", "aggregate", "expression"]),
       st.one_of(st.text(max_size=60), st.lists(sql_tokens, max_size=12).map("".join)))
def test_any_snippet_text(key, snippet):
    if key == "where":
        doc = {"kind": "segment", "name": "fz", "version": "1.0.0", "where": snippet}
    elif key == "aggregate":
        doc = {"kind": "attribute", "name": "fz", "version": "1.0.0", "type": "double", "source": "orders",
               "aggregate": snippet}
    else:
        doc = {"kind": "attribute", "name": "fz", "version": "1.0.0", "type": "double", "expression": snippet}
    with_file(yaml.safe_dump(doc, allow_unicode=True))
