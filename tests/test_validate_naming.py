"""Names that become columns and tables: plain identifiers, no reserved columns, no two
definitions writing one table on any target, nothing a target would truncate, no output
schema that a run uses for scratch work, no attribute named like an as-of keyword."""

from __future__ import annotations

import pytest

from validate_helpers import BASE, check, find, only


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
    d = only(check(tmp_path, files), "CDP218", "destinations/esp.yaml:6:15",
             "`sync__esp__" + long + "` is 71 bytes long; postgres keeps only the first 63 bytes")
    assert d.is_error and "silently rename" in d.hint


def test_long_names_are_fine_without_postgres(tmp_path):
    long = "s" * 60
    files = {"definitions/project.yaml": "kind: project\nname: shop\ntargets: [duckdb, spark]\n",
             f"definitions/segments/{long}.yaml":
             f"kind: segment\nname: {long}\nversion: 1.0.0\nwhere: big_spender\npurposes: [email_marketing]\n",
             "definitions/destinations/esp.yaml": "kind: destination\nname: esp\nversion: 1.0.0\nchannel: email\n"
                                                  f"syncs:\n  - {{segment: {long}, purpose: email_marketing}}\n"}
    assert check(tmp_path, files) == []


def long_segments(*names: str, targets: str = "[duckdb, postgres]") -> dict:
    """Segments synced to `esp`, the first sync at destinations/esp.yaml:6:15, the next on line 7."""
    files = {"definitions/project.yaml": f"kind: project\nname: shop\ntargets: {targets}\n",
             "definitions/destinations/esp.yaml": "kind: destination\nname: esp\nversion: 1.0.0\nchannel: email\nsyncs:\n"
                                                  + "".join(f"  - {{segment: {n}, purpose: email_marketing}}\n" for n in names)}
    for name in names:
        files[f"definitions/segments/{name}.yaml"] = (f"kind: segment\nname: {name}\nversion: 1.0.0\nwhere: big_spender\n"
                                                      "purposes: [email_marketing]\n")
    return files


def test_sync_tables_meeting_after_postgres_truncation(tmp_path):
    first, second = "s" * 60 + "a", "s" * 60 + "b"  # sync__esp__<61 chars>: the first 63 bytes are equal
    diagnostics = check(tmp_path, long_segments(first, second))
    clash = find(diagnostics, "CDP218", "destinations/esp.yaml:7:15")
    assert clash.is_error and "on postgres, already the table of sync `esp` -> `" + first + "`" in clash.message
    assert "postgres keeps only the first 63 bytes of a name" in clash.message and clash.hint
    assert "is 72 bytes long" in find(diagnostics, "CDP218", "destinations/esp.yaml:6:15").message


def test_long_sync_tables_do_not_meet_without_postgres(tmp_path):
    assert check(tmp_path, long_segments("s" * 60 + "a", "s" * 60 + "b", targets="[duckdb, spark]")) == []


def test_scratch_tables_meeting_after_postgres_truncation(tmp_path):
    # attr__<name> in cdpc_work: one attribute's scratch table would silently replace the other's
    first, second = "a" * 57 + "x", "a" * 57 + "y"
    files = {f"definitions/attributes/{n}.yaml": f"kind: attribute\nname: {n}\nversion: 1.0.0\ntype: boolean\n"
             "expression: big_spender\n" for n in (first, second)}
    d = only(check(tmp_path, files), "CDP218", f"attributes/{second}.yaml:2:7",
             f"the scratch table of attribute `{second}`", "on postgres", "keeps only the first 63 bytes")
    assert d.is_error


def test_a_long_scratch_table_alone_is_fine(tmp_path):
    name = "a" * 60  # attr__ + 60 is cut by PostgreSQL, the same way every time, and nobody looks it up
    files = {f"definitions/attributes/{name}.yaml": f"kind: attribute\nname: {name}\nversion: 1.0.0\ntype: boolean\n"
             "expression: big_spender\n"}
    assert check(tmp_path, files) == []


def test_relations_differing_only_in_case_meet(tmp_path):
    files = {**contract("a", "  id: {type: string}\n", relation="raw.Events"),
             **contract("b", "  id: {type: string}\n", relation="raw.events")}
    only(check(tmp_path, files), "CDP218", "contracts/b.yaml:4:11",
         "the raw relation of contract `b` would be raw.events, already the raw relation of contract `a`")


def test_relations_differing_in_case_are_two_on_bigquery(tmp_path):
    d = check(tmp_path, {"definitions/project.yaml": "kind: project\nname: shop\ntargets: [bigquery]\n",
                         **contract("a", "  id: {type: string}\n", relation="raw.Events"),
                         **contract("b", "  id: {type: string}\n", relation="raw.events")})
    assert [x for x in d if x.code == "CDP218"] == []


def test_a_name_snowflake_refuses(tmp_path):
    files = {"definitions/project.yaml": "kind: project\nname: shop\ntargets: [duckdb, snowflake]\n",
             **contract("a", "  id: {type: string}\n", relation="raw." + "t" * 256)}
    d = find(check(tmp_path, files), "CDP218", "contracts/a.yaml:4:11")
    assert "is 256 bytes long; snowflake refuses names longer than 255 bytes" in d.message and "refuse" in d.hint


def test_a_long_relation_is_fine_on_duckdb(tmp_path):
    files = {"definitions/project.yaml": "kind: project\nname: shop\ntargets: [duckdb]\n",
             **contract("a", "  id: {type: string}\n", relation="raw." + "t" * 256)}
    assert check(tmp_path, files) == []


def project_with_schemas(schemas: str) -> dict:
    """project.yaml with `schemas:` on line 4."""
    return {"definitions/project.yaml": f"kind: project\nname: shop\ntargets: [duckdb, postgres]\nschemas: {schemas}\n"}


@pytest.mark.parametrize("role", ["staging", "identity", "profiles", "audiences"])
def test_output_schema_cannot_be_the_scratch_schema(tmp_path, role):
    d = only(check(tmp_path, project_with_schemas(f"{{{role}: cdpc_work}}")), "CDP219", f"project.yaml:4:{13 + len(role)}",
             f"output schema `cdpc_work` (schemas.{role}) is cdpc's scratch schema")
    assert d.is_error and f"schemas.{role}" in d.hint


@pytest.mark.parametrize("meta, what", [
    ("cdpc_work", "cdpc's scratch schema `cdpc_work`"),
    ("cdp", "the output schema schemas.profiles"),
    ("cdpc_run_1", "named like the schemas private to a run"),
])
def test_meta_schema_is_a_schema_of_its_own(tmp_path, meta, what):
    d = only(check(tmp_path, project_with_schemas(f"{{meta: {meta}}}")), "CDP515", "project.yaml:4:17",
             f"meta schema `{meta}` (schemas.meta) is {what}")
    assert d.is_error and "schemas.meta" in d.hint


def test_the_default_meta_schema_is_checked_too(tmp_path):
    diagnostics = check(tmp_path, project_with_schemas("{audiences: cdpc_meta}"))
    only(diagnostics, "CDP515", "project.yaml:4:22", "meta schema `cdpc_meta` (schemas.meta) is the output schema schemas.audiences")


def test_output_schema_cannot_look_like_a_private_schema(tmp_path):
    only(check(tmp_path, project_with_schemas("{staging: cdpc_run_7__x}")), "CDP219", "project.yaml:4:20",
         "output schema `cdpc_run_7__x` (schemas.staging) is named like the schemas private to a run")


def test_output_schema_cannot_be_a_raw_relation_schema(tmp_path):
    diagnostics = check(tmp_path, project_with_schemas("{audiences: raw}"))
    d = only(diagnostics, "CDP219", "project.yaml:4:22",
             "output schema `raw` (schemas.audiences) is `raw`, the schema of the raw relation of contract `consents`")
    assert "never written" in d.message


def test_a_default_output_schema_meeting_a_raw_relation_is_blamed_on_the_relation(tmp_path):
    d = find(check(tmp_path, contract("extra", "  id: {type: string}\n", relation="CDP.extra")), "CDP219",
             "contracts/extra.yaml:4:11")
    assert "output schema `cdp` (schemas.profiles)" in d.message


def test_output_schemas_of_their_own_are_fine(tmp_path):
    assert check(tmp_path, project_with_schemas("{staging: s1, identity: s2, profiles: s3, audiences: cdpc_out}")) == []


def attribute(name: str) -> dict:
    return {f"definitions/attributes/{name}.yaml": f"kind: attribute\nname: {name}\nversion: 1.0.0\ntype: boolean\n"
                                                   "expression: big_spender\n"}


@pytest.mark.parametrize("name", ["current_date", "current_timestamp", "current_time", "now", "localtimestamp",
                                  "current_datetime"])
def test_attribute_named_like_an_as_of_keyword(tmp_path, name):
    d = only(check(tmp_path, attribute(name)), "CDP220", f"attributes/{name}.yaml:2:7",
             f"attribute `{name}` is named like an as-of keyword")
    assert d.is_error and d.hint


@pytest.mark.parametrize("name", ["current_date_value", "as_of_days", "nowhere"])
def test_attribute_names_near_the_keywords_are_fine(tmp_path, name):
    assert check(tmp_path, attribute(name)) == []


def test_every_bare_word_a_target_reads_as_the_time_is_a_keyword():
    """The list follows sqlglot: a bare word that parses as a time function on some target is in it."""
    from compiler.dialects import DIALECTS
    from compiler.snippets import parse_snippet
    from compiler.validate.naming import AS_OF_KEYWORDS

    words = {"current_date", "current_time", "current_timestamp", "current_datetime", "localtime", "localtimestamp",
             "sysdate", "systimestamp", "getdate", "today", "now", "utc_timestamp", "utc_date", "current_timestamp_ltz"}
    timed = {w for w in words for d in DIALECTS if type(parse_snippet(w, d).expr).__name__ != "Column"}
    assert timed and timed <= AS_OF_KEYWORDS


def test_field_named_like_a_keyword_value(tmp_path):
    # PostgreSQL reads an unquoted `user` as CURRENT_USER: the role would be aggregated, not the field
    contract = BASE["definitions/contracts/orders.yaml"].replace("notes: {type: string, phi: true}", "user: {type: string}")
    only(check(tmp_path, {"definitions/contracts/orders.yaml": contract}), "CDP221", "contracts/orders.yaml:13:3",
         "field `user` is named like a SQL keyword")


def test_attribute_named_like_a_keyword_value(tmp_path):
    files = {"definitions/attributes/session_user.yaml":
             "kind: attribute\nname: session_user\nversion: 1.0.0\ntype: integer\nsource: orders\naggregate: count(*)\n"}
    only(check(tmp_path, files), "CDP221", "attributes/session_user.yaml:2:7", "attribute `session_user`")


def test_names_containing_a_keyword_are_fine(tmp_path):
    files = {"definitions/attributes/user_count.yaml":
             "kind: attribute\nname: user_count\nversion: 1.0.0\ntype: integer\nsource: orders\naggregate: count(*)\n"}
    assert check(tmp_path, files) == []
