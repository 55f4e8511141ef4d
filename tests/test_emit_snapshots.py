"""syrupy snapshots of the reference project's SQL, one per target: a reviewer-visible diff of emit changes."""

from __future__ import annotations

import pytest

from compiler.render import render_target, sql_file_names
from compiler.dialects import DIALECTS
from compiler.project import require_valid

from helpers import ROOT


@pytest.fixture(scope="module")
def project():
    return require_valid(ROOT)


@pytest.mark.parametrize("target", sorted(DIALECTS))
def test_reference_project_sql(project, target, snapshot):
    units = render_target(project, target)
    assert {name: unit.text() for name, unit in zip(sql_file_names(units), units)} == snapshot
