"""Segment rules: include/exclude name segments without cycles, purposes are declared."""

from __future__ import annotations

from validate_helpers import check, only


def segment(name: str, extra: str) -> dict:
    """segments/<name>.yaml: header lines 1-4 (where: big_spender), `extra` from line 5."""
    return {f"definitions/segments/{name}.yaml":
            f"kind: segment\nname: {name}\nversion: 1.0.0\nwhere: big_spender\n" + extra}


def test_include_names_a_segment(tmp_path):
    d = only(check(tmp_path, segment("s", "include: [vpi]\n")), "CDP204", "segments/s.yaml:5:11",
             "`include` names unknown segment `vpi`")
    assert d.hint == "did you mean `vip`?"


def test_exclude_names_a_segment(tmp_path):
    only(check(tmp_path, segment("s", "exclude: [vip, gone]\n")), "CDP204", "segments/s.yaml:5:16",
         "`exclude` names unknown segment `gone`")


def test_include_exclude_cycle(tmp_path):
    files = {**segment("a", "include: [b]\n"), **segment("b", "exclude: [c]\n"), **segment("c", "include: [vip, a]\n")}
    d = only(check(tmp_path, files), "CDP211", "segments/a.yaml:5:11", "segment include/exclude cycle: a -> b -> c -> a")
    assert d.hint


def test_segment_excluding_itself(tmp_path):
    only(check(tmp_path, segment("s", "exclude: [s]\n")), "CDP211", "segments/s.yaml:5:11",
         "segment include/exclude cycle: s -> s")


def test_repeated_include_is_a_warning(tmp_path):
    d = only(check(tmp_path, segment("s", "include: [vip, vip]\n")), "CDP217", "segments/s.yaml:5:16",
             "segment `vip` is listed twice in `include`")
    assert not d.is_error


def test_purposes_are_declared_by_a_consent(tmp_path):
    d = only(check(tmp_path, segment("s", "purposes: [email_marketin]\n")), "CDP205", "segments/s.yaml:5:12",
             "purpose `email_marketin` is not declared by any consent")
    assert d.hint == "did you mean `email_marketing`?"


def test_expected_size_min_above_max(tmp_path):
    only(check(tmp_path, segment("s", "expected_size: {min: 10, max: 5}\n")), "CDP103", "segments/s.yaml:5:22",
         "expected_size min 10 is above max 5")


def test_segment_without_where_is_every_profile(tmp_path):
    assert check(tmp_path, {"definitions/segments/all.yaml": "kind: segment\nname: all\nversion: 1.0.0\n"}) == []
