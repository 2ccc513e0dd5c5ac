"""``callbridge import contacts FILE``: an agency's export, of any size, into one contact per person.

The file is read by daemon.sheets (xlsx, xls, ods, CSV), each row parsed in Python
(daemon.contacts.import_rows), COPied in chunks into temporary tables, linked into
people there, and applied in short set-based batches (daemon.contacts.import_store):
memory and locks stay flat however long the file. Every row gets an outcome:
``created``, ``updated #id``, ``merged into #id`` or ``skipped: reason``.
"""

from __future__ import annotations

import contextlib
import csv
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import structlog

from daemon.contacts.import_report import ImportReport
from daemon.contacts.import_rows import (
    CONTACT_ALIASES,
    IDENTIFIER_FIELDS,
    MULTI_FIELDS,
    ContactRow,
    parse_contact_row,
)
from daemon.contacts.import_store import ImportStore
from daemon.sheets import Row, SheetError, read_table
from daemon.store.repository import Repository
from daemon.store.statistics import analyze_written

__all__ = ["ImportReport", "import_contacts"]

log = structlog.get_logger(__name__)

STAGE_CHUNK_ROWS = 5000  # rows parsed and COPied at a time: the importer's memory
REPORT_COLUMNS = ("row", "outcome", "contact_id", "notes")


async def import_contacts(repo: Repository, path: Path, *, region: str, report_path: Path | None = None,
                          dry_run: bool = False, sheet: str | None = None,
                          mapping: Mapping[str, str] | None = None) -> ImportReport:
    """Import a contacts export; see the module docstring. Raises SheetError for a bad file
    before anything is written."""
    report = ImportReport(dry_run=dry_run)
    with read_table(path, CONTACT_ALIASES, sheet=sheet, mapping=mapping, multi=MULTI_FIELDS) as table:
        report.ignored_columns = list(table.ignored)
        if not any(f in table.columns for f in IDENTIFIER_FIELDS):
            raise SheetError(f"{path}: no phone or e-mail column; found {_found(table.columns)}, "
                             f"expected one of {', '.join(CONTACT_ALIASES['phones'] + CONTACT_ALIASES['email'])}")
        log.info("import_started", file=str(path), format=table.format, sheet=table.sheet,
                 encoding=table.encoding, columns=table.columns, dry_run=dry_run)
        async with repo.pool.acquire() as conn:
            store = ImportStore(conn, source=path.name)
            await store.create_staging()
            try:
                started = time.monotonic()
                await _stage(store, table.rows, region=region)
                log.info("import_staged", seconds=round(time.monotonic() - started, 1))
                batches = await store.group()
                log.info("import_grouped", batches=len(batches), seconds=round(time.monotonic() - started, 1))
                for batch in batches:
                    outcomes = await store.apply(batch, commit=not dry_run)
                    await store.save_outcomes(outcomes)
                log.info("import_applied", seconds=round(time.monotonic() - started, 1))
                flushed = 0
                if not dry_run:
                    flushed = await store.flush_candidates()
                    log.info("import_candidates", contacts=flushed, seconds=round(time.monotonic() - started, 1))
                await _tally(store, report, report_path)
            finally:
                await store.drop_staging()
            if not dry_run:
                # The candidates' recompute analyzed contacts and their identifiers already.
                name = "analyze_contacts_import_rest" if flushed else "analyze_contacts_import"
                report.analyze_s = await analyze_written(conn, name)
    log.info("import_done", created=report.created, updated=report.updated, merged=report.merged,
             skipped=report.skipped, dry_run=dry_run)
    return report


def _found(columns: Mapping[str, list[str]]) -> str:
    return ", ".join(f"{h!r} ({f})" for f, headers in columns.items() for h in headers) or "nothing"


async def _stage(store: ImportStore, rows: Iterator[Row], *, region: str) -> None:
    chunk: list[ContactRow] = []
    for row in rows:
        chunk.append(parse_contact_row(row, region=region))
        if len(chunk) == STAGE_CHUNK_ROWS:
            await store.stage(chunk)
            chunk = []
    if chunk:
        await store.stage(chunk)


async def _tally(store: ImportStore, report: ImportReport, report_path: Path | None) -> None:
    """Count the outcomes and write the --report CSV, reading them once, in row order."""
    with contextlib.ExitStack() as stack:
        writer = None
        if report_path is not None:
            # UTF-8 with a BOM, so that Excel shows the Cyrillic right.
            out = stack.enter_context(report_path.open("w", encoding="utf-8-sig", newline=""))
            writer = csv.writer(out)
            writer.writerow(REPORT_COLUMNS)
        async for row_no, outcome, contact_id, notes in store.outcomes():
            report.count([(row_no, outcome, contact_id, notes)])
            if writer is not None:
                writer.writerow((row_no, outcome, "" if contact_id is None else contact_id, "; ".join(notes)))
