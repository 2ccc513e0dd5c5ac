"""The inbox's retention: raw PBX events older than ``inbox_retention_days`` are pruned.

The inbox keeps every event verbatim, so it grows with every call while the
derived rows (communications, contacts, leads) are what people read. Old raw
events are deleted in batches (one short transaction each, never one long
lock), oldest first, and only whole calls that are over: every event of the
call is past the cutoff and its communication is finished. The call is listed
in ``pruned_calls`` in the same statement, so a late or re-delivered event of
it is stored but does not re-derive the row from the few events left.

Run by ``callbridge prune`` (daily by ``callbridge-prune.timer``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

import asyncpg
import structlog

from daemon.domain.readable import moment
from daemon.store.queries import q
from daemon.store.repository import translated_errors

log = structlog.get_logger(__name__)


@dataclass
class PruneReport:
    cutoff: datetime
    events: int = 0
    calls: int = 0
    batches: int = 0

    def line(self, tz: tzinfo | None = None) -> str:
        """The summary for a person: the cutoff in office time (``tz``), to the minute."""
        cutoff = self.cutoff.astimezone(tz) if tz is not None else self.cutoff
        return (f"удалено сырых событий АТС: {self.events} (завершённых звонков: {self.calls}), полученных до "
                f"{moment(cutoff)}, пакетов: {self.batches}; "
                "обращения, контакты и лиды сохранены")


def cutoff_for(days: int, now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) - timedelta(days=days)


async def _one_batch(pool: asyncpg.Pool, cutoff: datetime, batch: int) -> tuple[int, int, int]:
    """(candidates found, events deleted, calls marked) for one batch, in one transaction."""
    with translated_errors():
        async with pool.acquire() as conn, conn.transaction():
            found = await conn.fetch(q("prune_inbox_candidates"), cutoff, batch)
            if not found:
                return 0, 0, 0
            await conn.fetchval(q("lock_calls_for_prune"), [r["entry_id"] for r in found])
            row = await conn.fetchrow(q("prune_inbox_batch"), [r["id"] for r in found], cutoff)
    return len(found), row["events"], row["calls"]


async def prune_inbox(pool: asyncpg.Pool, *, cutoff: datetime, batch: int) -> PruneReport:
    """Delete prunable events received before ``cutoff``, ``batch`` at a time, until none is left."""
    report = PruneReport(cutoff=cutoff)
    while True:
        found, events, calls = await _one_batch(pool, cutoff, batch)
        if events:
            report.batches += 1
            report.events += events
            report.calls += calls
            log.info("inbox_pruned_batch", events=events, calls=calls)
        # A short batch was the last; an empty one (every candidate changed under
        # us: a late event arrived) must not spin.
        if found < batch or events == 0:
            break
    log.info("inbox_pruned", events=report.events, calls=report.calls, cutoff=cutoff.isoformat())
    return report
