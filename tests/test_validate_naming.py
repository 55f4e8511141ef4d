"""Names that become columns and tables: plain identifiers, no reserved columns, no two
definitions writing one table, nothing PostgreSQL would truncate."""

from __future__ import annotations

from validate_helpers import check, find, only


def contract(name: str, fields: str, relation: str = "") -> dict:
    """contracts/<name>.yaml; `fields` from line 6."""
    return {f"definitions/contracts/{name}.yaml":
            f"kind: contract\nname: {name}\nversion: 1.0.0\nrelation: {relation or 'raw.' + name}\nfields:\n" + fields}


def test_field_names_are_plain_identifiers(tmp_path):
    only(check(tmp_path, contract("extra", "  id: {type: string}\n  first name: {type: string}\n")),
         "CDP104", "contracts/extra.yaml:7:3", "field name `first name` is not a plain SQL identifier")


def test_reserved_column_name(tmp_path):
    only(check(tmp_path, contract("extra", "  _reject_reasons: {type: string}\n")),
         "CDP214", "contracts/extra.yaml:6:3", "`_reject_reasons` is reserved")


def test_fields_differing_only_in_case(tmp_path):
    only(check(tmp_path, contract("extra", "  Email: {type: string}\n  email: {type: string}\n")),
         "CDP214", "contracts/extra.yaml:7:3", "fields `Email` and `email` differ only in case")


def test_quarantine_table_collision(tmp_path):
    # contract `orders` stages into orders_rejected; a contract named orders_rejected would overwrite it
    only(check(tmp_path, contract("orders_rejected", "  id: {type: string}\n")), "CDP218",
         "contracts/orders_rejected.yaml:2:7",
         "the staging table of contract `orders_rejected` would be cdp_staging.orders_rejected, "
         "already the quarantine of contract `orders`")


def test_raw_relation_and_staging_table_collision(tmp_path):
    project = "kind: project\nname: shop\ntargets: [duckdb]\nschemas: {staging: raw}\n"
    diagnostics = check(tmp_path, {"definitions/project.yaml": project})
    d = find(diagnostics, "CDP218", "contracts/orders.yaml:2:7")
    assert "would be raw.orders, already the raw relation of contract `orders`" in d.message


def test_segment_and_sync_tables_share_the_audience_schema(tmp_path):
    files = {"definitions/segments/sync__esp__vip.yaml":
             "kind: segment\nname: sync__esp__vip\nversion: 1.0.0\nwhere: big_spender\n"}
    only(check(tmp_path, files), "CDP218", "destinations/esp.yaml:8:15",
         "the table of sync `esp` -> `vip` would be cdp_audiences.sync__esp__vip, already the table of segment `sync__esp__vip`")


def test_names_postgres_would_truncate(tmp_path):
    long = "s" * 60
    files = {f"definitions/segments/{long}.yaml":
             f"kind: segment\nname: {long}\nversion: 1.0.0\nwhere: big_spender\npurposes: [email_marketing]\n",
             "definitions/destinations/esp.yaml": "kind: destination\nname: esp\nversion: 1.0.0\nchannel: email\n"
                                                  f"syncs:\n  - {{segment: {long}, purpose: email_marketing}}\n"}
    d = only(check(tmp_path, files), "CDP218", "destinations/esp.yaml:6:15", "is 71 characters; PostgreSQL keeps only the first 63")
    assert d.hint


def test_long_names_are_fine_without_postgres(tmp_path):
    long = "s" * 60
    files = {"definitions/project.yaml": "kind: project\nname: shop\ntargets: [duckdb, spark]\n",
             f"definitions/segments/{long}.yaml":
             f"kind: segment\nname: {long}\nversion: 1.0.0\nwhere: big_spender\npurposes: [email_marketing]\n",
             "definitions/destinations/esp.yaml": "kind: destination\nname: esp\nversion: 1.0.0\nchannel: email\n"
                                                  f"syncs:\n  - {{segment: {long}, purpose: email_marketing}}\n"}
    assert check(tmp_path, files) == []
