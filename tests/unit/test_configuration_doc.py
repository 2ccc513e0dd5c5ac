"""docs/CONFIGURATION.md names every setting as a person writes it in the TOML file, with its variables."""

from __future__ import annotations

import re

import pytest

from config.settings import FLAT_NAMES, SETTING_NAMES
from tests.support.paths import REPO

DOC = (REPO / "docs" / "CONFIGURATION.md").read_text(encoding="utf-8")
# Tables in the file (a [group.name] table of their own), and what a variable cannot set.
TABLES = {"office_hours", "line_rules", "trip_statuses", "utm_sources", "sla_channels"}
FILE_ONLY = {"office_hours", "holidays", "line_rules", "trip_statuses"}


def written_in_toml(name: str) -> str:
    """``[leads] stale_days``, ``[routing.office_hours]``, ``[inquiries.sources.<name>]``, ``timezone``."""
    if name == "templates":
        return "`[templates]`"
    if name not in FLAT_NAMES:
        return f"`{name}`"  # a general key at the top of the file
    group, field = FLAT_NAMES[name]
    if name == "sources":
        return f"`[{group}.{field}.<name>]`"
    return f"`[{group}.{field}]`" if name in TABLES else f"`[{group}] {field}`"


def variables(name: str) -> list[str]:
    if name in FILE_ONLY:
        return []
    found = [f"`CALLBRIDGE_{name.upper()}`"]
    if name in FLAT_NAMES:
        group, field = FLAT_NAMES[name]
        found.append(f"`CALLBRIDGE_{group.upper()}__{field.upper()}`")
    return found


@pytest.mark.parametrize("name", SETTING_NAMES)
def test_every_setting_is_in_the_document_as_written_in_the_file_with_its_variables(name: str) -> None:
    assert written_in_toml(name) in DOC, f"docs/CONFIGURATION.md does not name {name} as {written_in_toml(name)}"
    for variable in variables(name):
        assert variable in DOC, f"docs/CONFIGURATION.md does not name {variable} ({name})"


def test_the_document_names_no_setting_that_does_not_exist() -> None:
    known = {v.strip("`") for name in SETTING_NAMES for v in variables(name)} | {"CALLBRIDGE_CONFIG"}
    named = set(re.findall(r"CALLBRIDGE_[A-Z_]*[A-Z]", DOC))
    assert named <= known, sorted(named - known)


def test_the_main_table_names_no_setting_by_its_flat_name_alone() -> None:
    """Every row of a settings table starts with the TOML spelling, not a bare variable."""
    rows = [line for line in DOC.splitlines() if line.startswith("| `CALLBRIDGE_")]
    assert rows == []
