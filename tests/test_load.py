"""The YAML loader: every syntax problem is a located diagnostic, never a traceback, and
every key and value knows its file:line:col."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from compiler.diagnostics import Location
from compiler.load import MAX_DEPTH, load_definitions, load_text_file


def load(text: str | bytes):
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return load_text_file("definitions/f.yaml", raw)


def codes(diagnostics) -> list[str]:
    return [d.code for d in diagnostics]


def test_tab_indentation(tmp_path):
    docs, diags = load("kind: contract\nfields:\n\tid: {type: string}\n")
    assert docs == [] and codes(diags) == ["CDP001"]
    assert str(diags[0].location) == "definitions/f.yaml:3:1"
    assert "tabs" in diags[0].hint


def test_bad_indentation():
    docs, diags = load("kind: contract\nname: x\n  version: 1.0.0\n")
    assert codes(diags) == ["CDP001"]
    assert str(diags[0].location) == "definitions/f.yaml:3:10"
    assert "indentation" in diags[0].hint


def test_dedented_key_inside_a_mapping():
    docs, diags = load("fields:\n  a: 1\n b: 2\n")
    assert codes(diags) == ["CDP001"] and diags[0].location.line == 3


def test_unclosed_bracket():
    docs, diags = load("kind: segment\npurposes: [a, b\n")
    assert codes(diags) == ["CDP001"]


def test_duplicate_keys_are_reported_with_both_lines():
    docs, diags = load("kind: contract\nname: a\nfields:\n  x: 1\n  x: 2\nname: b\n")
    assert codes(diags) == ["CDP004", "CDP004"]
    assert [str(d.location) for d in diags] == ["definitions/f.yaml:5:3", "definitions/f.yaml:6:1"]
    assert "first defined at line 4" in diags[0].message and "first defined at line 2" in diags[1].message
    assert docs[0].data["name"] == "b"  # loaded as YAML would, but the error fails validation


@pytest.mark.parametrize("text", ["", "   \n", "# only a comment\n", "---\n", "---\n...\n"])
def test_empty_file_is_a_warning(text):
    docs, diags = load(text)
    assert docs == [] and codes(diags) == ["CDP003"]
    assert not diags[0].is_error


def test_non_utf8_points_at_the_byte():
    docs, diags = load(b"kind: contract\nname: caf\xe9\n")
    assert docs == [] and codes(diags) == ["CDP002"]
    assert str(diags[0].location) == "definitions/f.yaml:2:10"
    assert "0xe9" in diags[0].message


def test_utf8_bom_and_crlf_are_fine():
    docs, diags = load(b"\xef\xbb\xbfkind: project\r\nname: x\r\n")
    assert diags == [] and docs[0].data == {"kind": "project", "name": "x"}


def test_multi_document_file():
    docs, diags = load("kind: a\nname: x\n---\nkind: b\nname: y\n---\n# nothing\n")
    assert diags == []
    assert [d.data for d in docs] == [{"kind": "a", "name": "x"}, {"kind": "b", "name": "y"}]
    assert [d.index for d in docs] == [0, 1]
    assert docs[1].loc("name") == Location("definitions/f.yaml", 5, 7)


def test_leading_separator_and_empty_documents_are_skipped():
    docs, diags = load("---\n---\nkind: a\n")
    assert diags == [] and [d.data for d in docs] == [{"kind": "a"}]


def test_positions_of_keys_and_values():
    docs, _ = load("kind: contract\nfields:\n  email: {type: string, pii: true}\n  tags:\n    - a\n    - {b: 2}\n")
    doc = docs[0]
    assert doc.loc("kind") == Location("definitions/f.yaml", 1, 7)
    assert doc.key_loc("fields") == Location("definitions/f.yaml", 2, 1)
    assert doc.loc("fields", "email", "pii") == Location("definitions/f.yaml", 3, 30)
    assert doc.key_loc("fields", "email", "pii") == Location("definitions/f.yaml", 3, 25)
    assert doc.loc("fields", "tags", 1, "b") == Location("definitions/f.yaml", 6, 11)
    # a path below a value falls back to its nearest located ancestor
    assert doc.loc("fields", "email", "nothing", 3) == doc.loc("fields", "email")


def test_yaml_types():
    docs, _ = load("a: 1\nb: 1.5\nc: yes\nd: 2024-01-02\ne: '2024-01-02'\nf: ~\ng: 2024-01-02 10:00:00\n")
    assert docs[0].data == {"a": 1, "b": 1.5, "c": True, "d": dt.date(2024, 1, 2), "e": "2024-01-02", "f": None,
                            "g": dt.datetime(2024, 1, 2, 10, 0)}


def test_invalid_date_is_a_diagnostic_not_a_crash():
    docs, diags = load("approved_at: 2024-13-45\nname: x\n")
    assert codes(diags) == ["CDP001"] and str(diags[0].location) == "definitions/f.yaml:1:14"
    assert "quote" in diags[0].hint
    assert docs[0].data == {"approved_at": "2024-13-45", "name": "x"}


@pytest.mark.parametrize("text, fragment", [
    ("a: &x {b: 1}\nc:\n  <<: *x\n", "merge keys"),
    ("a: !!python/object:os.system x\n", "unsupported tag"),
    ("a: !!set {x, y}\n", "unsupported tag"),
    ("a: *nowhere\n", "names no anchor"),
    ("a: &x [*x]\n", "inside its own anchor"),
])
def test_constructs_cdpc_does_not_read(text, fragment):
    docs, diags = load(text)
    assert docs == [] and codes(diags) == ["CDP001"]
    assert fragment in diags[0].message


def test_aliases_share_instead_of_expanding():
    # "billion laughs": 30 levels of doubling would be 2**30 strings if aliases were copied
    lines = ['l0: &l0 ["x", "x"]'] + [f"l{i}: &l{i} [*l{i - 1}, *l{i - 1}]" for i in range(1, 30)]
    started = time.perf_counter()
    docs, diags = load("\n".join(lines) + "\n")
    assert diags == [] and time.perf_counter() - started < 1


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 100_000])
def test_deep_nesting_is_refused_not_a_crash(depth):
    docs, diags = load("a: " + "[" * depth + "]" * depth + "\n")
    assert docs == [] and codes(diags) == ["CDP001"]
    assert "nesting deeper than" in diags[0].message


def test_nesting_up_to_the_limit_loads():
    depth = MAX_DEPTH - 1
    docs, diags = load("a: " + "[" * depth + "]" * depth + "\n")
    assert diags == []


def test_complex_and_null_keys_become_text():
    docs, diags = load("? [a, b]\n: 1\n~: 2\n")
    assert diags == [] and docs[0].data == {"['a', 'b']": 1, "None": 2}


def test_ten_megabyte_file():
    lines = ["kind: contract", "name: big", "version: 1.0.0", "relation: raw.big", "fields:"]
    i = 0
    size = 0
    while size < 10 * 1024 * 1024:
        line = f'  field_{i}: {{type: string, description: "a field description {i}"}}'
        lines.append(line)
        size += len(line) + 1
        i += 1
    started = time.perf_counter()
    docs, diags = load("\n".join(lines) + "\n")
    elapsed = time.perf_counter() - started
    assert diags == [] and len(docs[0].data["fields"]) == i
    assert docs[0].loc("fields", f"field_{i - 1}", "type") == Location("definitions/f.yaml", i + 5, len(f"field_{i - 1}") + 12)
    assert elapsed < 60, f"10 MB took {elapsed:.1f} s"


def test_files_are_read_in_path_order_from_every_folder(tmp_path):
    for rel in ("definitions/z.yaml", "definitions/a/b.yml", "definitions/a.yaml", "definitions/notes.txt"):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"kind: x\nname: {path.stem}\n")
    docs, diags = load_definitions(tmp_path)
    assert [d.file for d in docs] == ["definitions/a.yaml", "definitions/a/b.yml", "definitions/z.yaml"]
