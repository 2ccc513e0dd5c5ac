"""The contact import's side of PostgreSQL: staging tables, grouping, batches (sql/queries/import.sql).

One connection holds the session's temporary tables from the first COPY to the
report; each batch is its own short transaction, committed or (dry run) rolled back.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
import structlog

from daemon.contacts.import_rows import ContactRow
from daemon.store.queries import q
from daemon.store.repository import translated_errors

log = structlog.get_logger(__name__)

# Rows per transaction. It bounds the batch's advisory locks (one per phone it adds,
# about 1.5 a row: far below the 6,400-slot lock table of a default PostgreSQL, which
# all sessions share) and how long a call for one of its phones may wait (a fraction
# of a second); larger batches spread the fixed cost of each batch's statements.
BATCH_ROWS = 1000
BATCH_ATTEMPTS = 3  # a deadlock or serialization failure with a concurrent writer is retried
REPORT_FETCH_ROWS = 5000
# The daemon's db_command_timeout_s (5 s) is for the hot path; grouping a million
# staged rows is one statement of tens of seconds. Still bounded: a hung server fails.
STATEMENT_TIMEOUT_S = 1800.0
_RETRYABLE = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)

Outcome = tuple[int, str, int | None, list[str]]
# One batch, in order; sent as one multi-statement script (no parameters: the batch
# number is set in the transaction by import_batch_begin).
_APPLY_STEPS = ("import_lock_new_phones", "import_reset_groups", "import_fill_groups", "import_add_managers",
                "import_managers_by_extension", "import_add_named_managers", "import_managers_by_name",
                "import_target_holders", "import_target_new", "import_create_contacts", "import_analyze_groups",
                "import_update_contacts", "import_add_identifiers", "import_add_invalid", "import_hint_duplicates")
STAGING_TABLES = ("import_staging_rows", "import_staging_keys", "import_staging_invalid", "import_staging_outcomes",
                  "import_staging_groups")
_INDEX_STAGING = ("import_index_keys_by_value", "import_index_keys_by_row", "import_index_invalid_by_row",
                  "import_add_owner_keys", "import_analyze_staging")
_INDEX_BATCHES = ("import_index_rows_by_group", "import_index_rows_by_batch", "import_analyze_rows")


@functools.cache
def _apply_script() -> str:
    return ";\n".join(q(name).rstrip().rstrip(";") for name in _APPLY_STEPS) + ";"


async def create_staging_tables(conn: asyncpg.Connection) -> None:
    """The session's staging tables, empty (tests prepare the import's queries after this)."""
    await conn.execute(q("import_drop_staging"))
    for name in STAGING_TABLES:
        await conn.execute(q(name))


class ImportStore:
    def __init__(self, conn: asyncpg.Connection, *, source: str) -> None:
        self.conn = conn
        self.source = source  # the file's name, kept in duplicate hints' evidence

    async def create_staging(self) -> None:
        with translated_errors():
            with contextlib.suppress(asyncpg.InvalidParameterValueError):
                await self._execute("import_session_buffers")  # refused if temp tables were used: fine
            await create_staging_tables(self.conn)

    async def drop_staging(self) -> None:
        if self.conn.is_closed():
            return  # the tables went with the session; keep the error that closed it
        with translated_errors():
            await self._execute("import_drop_staging")

    async def _execute(self, name: str, *args: Any) -> None:
        await self.conn.execute(q(name), *args, timeout=STATEMENT_TIMEOUT_S)

    async def _fetchval(self, name: str, *args: Any) -> Any:
        return await self.conn.fetchval(q(name), *args, timeout=STATEMENT_TIMEOUT_S)

    async def _fetch(self, name: str, *args: Any) -> list[Any]:
        return await self.conn.fetch(q(name), *args, timeout=STATEMENT_TIMEOUT_S)

    async def _copy(self, table: str, columns: tuple[str, ...], records: list[tuple[Any, ...]]) -> None:
        await self.conn.copy_records_to_table(table, columns=columns, records=records, timeout=STATEMENT_TIMEOUT_S)

    async def stage(self, rows: Sequence[ContactRow]) -> None:
        """COPY one chunk of parsed rows; rows without an identifier become skipped outcomes."""
        usable = [r for r in rows if r.skip_reason is None]
        with translated_errors():
            await self._copy("import_rows", ("row_no", "name", "responsible", "birthday", "note", "tags", "notes",
                                             "grp"),
                             [(r.number, r.name, r.responsible, r.birthday, r.note, r.tags, r.notes, r.number)
                              for r in usable])
            await self._copy("import_keys", ("row_no", "kind", "value"),
                             [(r.number, i.kind, i.value) for r in usable for i in r.identifiers])
            await self._copy("import_invalid", ("row_no", "kind", "value", "reason"),
                             [(r.number, i.kind, i.value, i.reason) for r in usable for i in r.invalid])
            await self.save_outcomes([(r.number, f"skipped: {r.skip_reason}", None, [])
                                      for r in rows if r.skip_reason is not None])

    async def save_outcomes(self, outcomes: Sequence[Outcome]) -> None:
        if outcomes:
            with translated_errors():
                await self._copy("import_outcomes", ("row_no", "outcome", "contact_id", "notes"), list(outcomes))

    async def group(self) -> list[int]:
        """Link rows into people (connected components over shared identifiers and the
        contacts holding them), then cut them into batches; returns the batch numbers."""
        rounds = 0
        with translated_errors():
            for name in _INDEX_STAGING:
                await self._execute(name)
            while True:
                rounds += 1
                moved = await self._fetchval("import_hook")
                moved += await self._fetchval("import_jump")
                if moved == 0:
                    break
            await self._execute("import_assign_batches", BATCH_ROWS)
            for name in _INDEX_BATCHES:
                await self._execute(name)
            batches = [r["batch"] for r in await self._fetch("import_batches")]
        log.debug("import_grouped", rounds=rounds, batches=len(batches))
        return batches

    async def apply(self, batch: int, *, commit: bool) -> list[Outcome]:
        """Apply one batch in its own transaction; returns its rows' outcomes."""
        for attempt in range(1, BATCH_ATTEMPTS + 1):
            try:
                with translated_errors():
                    return await self._apply_once(batch, commit=commit)
            except Exception as exc:
                if not isinstance(exc.__cause__, _RETRYABLE) or attempt == BATCH_ATTEMPTS:
                    raise
                log.warning("import_batch_retry", batch=batch, attempt=attempt, error=str(exc.__cause__))
        raise AssertionError("unreachable")

    async def _apply_once(self, batch: int, *, commit: bool) -> list[Outcome]:
        tx = self.conn.transaction()
        await tx.start()
        try:
            await self._fetchval("import_batch_begin", str(batch), self.source)
            await self._fetchval("candidates_defer")  # flush_candidates recomputes them at the end
            await self.conn.execute(_apply_script(), timeout=STATEMENT_TIMEOUT_S)
            rows = await self._fetch("import_batch_outcomes")
        except BaseException:
            await tx.rollback()
            raise
        if commit:
            await tx.commit()
        else:
            await tx.rollback()
        return [(r["row_no"], r["outcome"], r["contact_id"], list(r["notes"])) for r in rows]

    async def flush_candidates(self) -> int:
        """Recompute the duplicate candidates of the contacts the batches touched, at once
        (hash joins over the base, not a probe per contact); returns how many."""
        with translated_errors():
            return int(await self._fetchval("candidates_flush"))

    async def outcomes(self) -> AsyncIterator[Outcome]:
        """Every row's outcome in row order, streamed by a server-side cursor."""
        with translated_errors():
            async with self.conn.transaction():
                cursor = self.conn.cursor(q("import_report_rows"), prefetch=REPORT_FETCH_ROWS,
                                          timeout=STATEMENT_TIMEOUT_S)
                async for r in cursor:
                    yield r["row_no"], r["outcome"], r["contact_id"], list(r["notes"])
