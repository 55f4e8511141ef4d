"""Data hash vs metadata hash (compiler/fingerprint.py): what moves them and what never does."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from compiler.compile import compile_outputs
from compiler.fingerprint import fingerprints
from compiler.project import load_project

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "check_project"
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def prints_of(root: Path) -> dict:
    project = load_project(root)
    assert project.ok, [d.render() for d in project.diagnostics]
    return fingerprints(project.definitions, project.lineage)


def data(prints: dict) -> dict:
    return {node: p.data_hash for node, p in prints.items()}


def meta(prints: dict) -> dict:
    return {node: p.metadata_hash for node, p in prints.items()}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "p"
    shutil.copytree(FIXTURE, root)
    return root


def edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text()
    assert text.count(old) == 1, old
    path.write_text(text.replace(old, new))


def changed(before: dict, after: dict) -> set[str]:
    return {node for node in before if before[node] != after.get(node)} | (after.keys() - before.keys())


# --------------------------------------------------------------------------- what never changes the data hash


def test_description_owner_tags_change_only_the_metadata_hash(project):
    before = prints_of(project)
    edit(project, "definitions/segments/big_spenders.yaml", "description: Customers who spent 100 or more.",
         "description: Our best.\ntags: [vip]")
    edit(project, "definitions/segments/big_spenders.yaml", "owner: data@shop.example", "owner: crm@shop.example")
    edit(project, "definitions/contracts/orders.yaml", "  email: {type: string, pii: true}",
         "  email: {type: string, pii: true, description: Buyer email.}")
    edit(project, "definitions/project.yaml", "min_approvals: 1", "min_approvals: 2")  # policy: in neither hash
    after = prints_of(project)
    assert data(after) == data(before)
    assert changed(meta(before), meta(after)) == {"segment:big_spenders", "contract:orders"}


def test_version_alone_changes_no_hash(project):
    before = prints_of(project)
    edit(project, "definitions/attributes/spend.yaml", "version: 1.0.0", "version: 3.1.4")
    assert prints_of(project) == before


def test_reformatting_reordering_and_moving_keep_both_hashes(project):
    before = prints_of(project)
    segment = project / "definitions/segments/big_spenders.yaml"
    segment.unlink()
    (project / "definitions/more").mkdir()
    (project / "definitions/more/everything.yml").write_text(
        "# a comment\n"
        "purposes:\n  - email_marketing\n"
        "where: \"TIER   =  'gold'\"\n"  # keyword case and spacing: same canonical SQL? (column names keep case)
        .replace("TIER", "tier") +
        "version: '1.0.0'\nname: big_spenders\ndescription: >\n  Customers who spent\n  100 or more.\nkind: segment\n"
        "include: []\nexclude: []\nowner: data@shop.example\n")
    edit(project, "definitions/attributes/spend.yaml", "aggregate: sum(amount)", "aggregate: SUM( amount )")
    edit(project, "definitions/attributes/spend.yaml", "where: status = 'paid'", "where: \"status='paid'\"")
    edit(project, "definitions/contracts/orders.yaml", "  amount: {type: integer, min: 0}",
         "  amount:\n    min: 0\n    type: integer\n    required: false")
    after = prints_of(project)
    assert data(after) == data(before)
    assert meta(after) == meta(before)


def test_set_like_lists_and_decimal_spelling(project):
    before = prints_of(project)
    edit(project, "definitions/contracts/orders.yaml", "accepted_values: [paid, refunded, pending]",
         "accepted_values: [pending, paid, refunded]")
    edit(project, "definitions/segments/regulars.yaml", "purposes: [email_marketing]", "purposes: [email_marketing]\ninclude: []")
    assert data(prints_of(project)) == data(before)
    edit(project, "definitions/attributes/spend.yaml", "type: bigint", "type: decimal(12,2)")
    spaced = prints_of(project)
    edit(project, "definitions/attributes/spend.yaml", "type: decimal(12,2)", "type: 'decimal(12, 2)'")
    assert prints_of(project) == spaced


# --------------------------------------------------------------------------- what does


def test_upstream_attribute_change_reaches_every_segment_and_sync_below(project):
    before = prints_of(project)
    edit(project, "definitions/attributes/spend.yaml", "where: status = 'paid'", "where: status <> 'refunded'")
    after = prints_of(project)
    assert changed(data(before), data(after)) == {
        "attribute:spend", "attribute:tier", "segment:big_spenders", "segment:regulars", "destination:mailer"}
    # only the attribute's own keys changed; the others moved through lineage
    assert {n for n in before if before[n].own_hash != after[n].own_hash} == {"attribute:spend"}
    assert meta(after) == meta(before)


def test_contract_change_reaches_everything_it_feeds(project):
    before = prints_of(project)
    edit(project, "definitions/contracts/consents.yaml", "purpose: {type: string, required: true}",
         "purpose: {type: string, required: true, accepted_values: [email_marketing]}")
    after = prints_of(project)
    # the identity reads every source, so every profile-level definition moves; the other contract does not
    assert changed(data(before), data(after)) == {
        "contract:consents", "identity:customer", "attribute:spend", "attribute:tier", "attribute:order_count",
        "consent:marketing", "segment:big_spenders", "segment:regulars", "destination:mailer"}


def test_field_order_is_semantic(project):
    before = prints_of(project)
    edit(project, "definitions/contracts/orders.yaml", "  order_id: {type: string, required: true}\n", "")
    edit(project, "definitions/contracts/orders.yaml", "  ordered_at: {type: timestamp, required: true}",
         "  ordered_at: {type: timestamp, required: true}\n  order_id: {type: string, required: true}")
    after = prints_of(project)
    assert "contract:orders" in changed(data(before), data(after))


def test_project_schemas_reach_everything_targets_only_the_project(project):
    before = prints_of(project)
    edit(project, "definitions/project.yaml", "targets: [duckdb]", "targets: [duckdb, postgres]")
    assert changed(data(before), data(prints_of(project))) == {"project:shop"}
    edit(project, "definitions/project.yaml", "targets: [duckdb, postgres]",
         "targets: [duckdb, postgres]\nschemas: {audiences: marketing_audiences}")
    assert changed(data(before), data(prints_of(project))) == set(before)


def test_manifest_holds_both_hashes(project):
    loaded = load_project(project)
    prints = fingerprints(loaded.definitions, loaded.lineage)
    manifest = json.loads(compile_outputs(loaded)["manifest.json"])
    for entry in manifest["definitions"]:
        node = f"{entry['kind']}:{entry['name']}"
        assert entry["data_hash"] == prints[node].data_hash
        assert entry["metadata_hash"] == prints[node].metadata_hash
        assert entry["data_hash"].startswith("sha256:") and len(entry["data_hash"]) == 71


# --------------------------------------------------------------------------- property: layout never matters


def _documents(root: Path) -> list[dict]:
    docs = []
    for path in sorted((root / "definitions").rglob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


ORDERED = {("fields",)}  # contract field order is semantic (staged column order): keep it


def _shuffle(value, rng: random.Random, path: tuple = ()):
    if isinstance(value, dict):
        items = [(k, _shuffle(v, rng, path + (k,))) for k, v in value.items()]
        if path not in ORDERED:
            rng.shuffle(items)
        return dict(items)
    if isinstance(value, list):
        return [_shuffle(v, rng, path + ("[]",)) for v in value]
    return value


@settings(max_examples=25, **SETTINGS)
@given(seed=st.integers(0, 2**32 - 1), flow=st.sampled_from([False, True, None]), indent=st.sampled_from([2, 4]),
       layout=st.sampled_from(["one file", "one per document", "random folders"]))
def test_reformatting_and_reordering_keys_keeps_hashes(tmp_path_factory, seed, flow, indent, layout):
    original = tmp_path_factory.mktemp("orig")
    shutil.copytree(FIXTURE / "definitions", original / "definitions")
    expected = prints_of(original)

    rng = random.Random(seed)
    docs = [_shuffle(d, rng) for d in _documents(original)]
    rng.shuffle(docs)
    root = tmp_path_factory.mktemp("reformatted")
    (root / "definitions").mkdir()

    def dump(content) -> str:
        return "# reformatted\n" + yaml.safe_dump(content, sort_keys=False, default_flow_style=flow, indent=indent,
                                                  width=rng.choice([40, 80, 200]), allow_unicode=True)

    if layout == "one file":
        (root / "definitions/all.yaml").write_text("---\n".join(dump(d) for d in docs))
    else:
        for number, doc in enumerate(docs):
            folder = root / "definitions" / (f"f{rng.randrange(3)}" if layout == "random folders" else "")
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"d{number}.{rng.choice(['yaml', 'yml'])}").write_text(dump(doc))
    assert prints_of(root) == expected


# --------------------------------------------------------------------------- column-level: what a contract hands its readers


def test_a_field_nothing_reads_and_no_rule_rejects_on_moves_only_the_contract(project):
    edit(project, "definitions/contracts/orders.yaml", "  ordered_at:", "  note: {type: string}\n  ordered_at:")
    before = prints_of(project)
    edit(project, "definitions/contracts/orders.yaml", "  note: {type: string}\n", "")
    assert changed(data(before), data(prints_of(project))) == {"contract:orders"}


def test_a_row_rule_on_any_field_moves_every_reader_of_the_contract(project):
    before = prints_of(project)
    edit(project, "definitions/contracts/orders.yaml", 'pattern: "^[A-Z]+$"', 'pattern: "^[A-Z]{3,}$"')  # coupon: unread
    moved = changed(data(before), data(prints_of(project)))
    assert {"contract:orders", "identity:customer", "attribute:spend", "attribute:order_count",
            "segment:big_spenders", "segment:regulars", "destination:mailer"} <= moved


def test_a_read_field_moves_its_readers_only(project):
    before = prints_of(project)
    # amount has a row rule (integer, min): privacy flags are not row rules, but spend reads amount
    edit(project, "definitions/contracts/orders.yaml", "amount: {type: integer, min: 0}",
         "amount: {type: integer, min: 0, classification: confidential}")
    moved = changed(data(before), data(prints_of(project)))
    assert "attribute:spend" in moved and "segment:big_spenders" in moved
    assert "attribute:order_count" not in moved and "identity:customer" not in moved
