"""Crafted and hostile spreadsheets through the real ``callbridge`` console script.

A file built to be huge once read (tests/crafted.py) is refused with one line and
exit code 2, writes nothing, and the command's peak memory (its own and its reader
process's, as ``wait4`` reports them) stays under 500 MB. A bad cell costs its row,
with the reason, never the file.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from config.settings import Settings
from daemon.calls.lines import import_lines
from daemon.contacts.importer import import_contacts
from daemon.leads.trips import import_trips
from daemon.store.repository import Repository
from tests import crafted
from tests.spreadsheets import write_csv

PEAK_RSS_LIMIT_MB = 500
SCRIPT = Path(sys.executable).with_name("callbridge")


def _run_measured(args: list[str], env: dict[str, str], tmp_path: Path) -> tuple[int, str, str, int]:
    """(exit code, stdout, stderr, peak RSS in MB of the process and the children it waited for)."""
    out, err = tmp_path / "out.txt", tmp_path / "err.txt"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen([str(SCRIPT), *args], env=env, stdout=stdout, stderr=stderr)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, out.read_text(), err.read_text(), usage.ru_maxrss // 1024  # KiB on Linux


@pytest.mark.timeout(120)
@pytest.mark.parametrize("build", [
    crafted.huge_dimension_xlsx, crafted.far_cells_xlsx, crafted.shared_string_fanout_xlsx,
    crafted.zip_bomb_xlsx, crafted.repeated_rows_ods,
], ids=lambda build: build.__name__)
async def test_a_crafted_workbook_is_refused_in_one_line_within_500_mb(
        build: Callable[[Path], Path], db_url: str, repo: Repository, tmp_path: Path) -> None:
    path = build(tmp_path / "export.xlsx")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLBRIDGE_")}
    env.update(CALLBRIDGE_DATABASE_URL=db_url, CALLBRIDGE_LOG_LEVEL="warning")

    code, out, err, peak_mb = await asyncio.to_thread(
        _run_measured, ["import", "contacts", str(path)], env, tmp_path)

    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"callbridge: import: {path}: "), err
    assert "Traceback" not in out
    assert peak_mb <= PEAK_RSS_LIMIT_MB
    assert await repo.pool.fetchval("SELECT count(*) FROM contacts") == 0


def _random_name(length: int) -> str:
    letters = "абвгдежзийклмнопрстуфхцчшщэюя "
    pick = random.Random(length).choice
    return "".join(pick(letters) for _ in range(length))


async def test_a_bad_cell_skips_its_row_with_the_reason_and_the_rest_is_imported(
        repo: Repository, tmp_path: Path) -> None:
    """A cell over 32,767 characters, a NUL, or a "name" of 20,000 letters (past what the name
    index holds, which once failed the whole file with "PostgreSQL error") each skip one row."""
    path = write_csv(tmp_path / "cells.csv", "ФИО;Телефон\n" + "".join(f"{name};{phone}\n" for name, phone in [
        ("Анна", "+79161234567"), ("Б" * 40_000, "+79161234568"), ("Ве\x00ра", "+79161234569"),
        (_random_name(20_000), "+79161234570"), ("Гена", "+79161234571")]))
    report_path = tmp_path / "outcome.csv"

    report = await import_contacts(repo, path, region="RU", report_path=report_path)

    assert (report.rows, report.created, report.skipped) == (5, 2, 3)
    skipped = sorted(example for kind, found in report.kinds.items() if kind.startswith("skipped")
                     for example in found.examples)
    assert skipped == [
        (3, "the name cell has 40,000 characters, more than a spreadsheet cell holds (32,767)"),
        (4, "the name cell holds a NUL character, which no text field can store"),
        (5, "the name has 20,000 characters (at most 500): not a person's name"),
    ]
    names = await repo.pool.fetch("SELECT name FROM contacts ORDER BY name")
    assert [r["name"] for r in names] == ["Анна", "Гена"]


async def test_a_bad_cell_rejects_its_booking_and_the_rest_is_stored(
        settings: Settings, repo: Repository, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "trips.csv", "Номер заявки;Клиент;Телефон\n" + "".join(
        f"{order};{name};{phone}\n" for order, name, phone in [
            ("A-1", "Анна", "+79161234567"), ("A-2", "Б" * 40_000, "+79161234568"),
            ("A-3", _random_name(20_000), "+79161234569"), (_random_name(3_000).replace(" ", "-"), "Дина", "+79161234570"),
            ("A-4", "Гена", "+79161234571")]))

    report = await import_trips(repo.pool, path, settings, now=datetime(2025, 4, 1, tzinfo=UTC))

    assert (report.rows, report.inserted) == (5, 2)
    assert report.rejected == [
        (3, "the name cell has 40,000 characters, more than a spreadsheet cell holds (32,767)"),
        (4, "the name has 20,000 characters (at most 500): not a person's name"),
        (5, "the order number has 3,000 characters (at most 100): not an order number"),
    ]


async def test_a_bad_cell_skips_its_line_and_the_rest_is_imported(repo: Repository, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "lines.csv", "Линия;Реклама\n+74951234567;Яндекс\n+74957654321;"
                     + "Р" * 40_000 + "\n+74950000000;Avito\n")

    report = await import_lines(repo, path, region="RU")

    assert (report.rows, report.created) == (3, 2)
    assert report.skipped == [(3, "the ad_source cell has 40,000 characters, more than a spreadsheet cell "
                                  "holds (32,767)")]
