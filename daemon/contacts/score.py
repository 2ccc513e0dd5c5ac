"""A score for every contact (0..100, with its reasons), his preferred channel and his first contact.

All three are computed together by one statement per batch of contacts
(``scores_refresh``; the formula is in docs/LEADS.md, «Score»):

* ``refresh_contacts(conn, ids)``: those contacts, now (after a stage move, an outcome, a merge);
* ``flush_dirty(pool)``: the contacts whose inputs changed (communications, trips,
  leads, do-not-call marks: triggers log them in ``contact_score_dirty``), taken
  with ``SKIP LOCKED`` so that two daemons share the work; the daemon runs it every
  ``SCORE_FLUSH_S``;
* ``refresh_all(pool)``: every contact, in batches (nightly: recency decays with time).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import get_args

import asyncpg
import structlog

from config.settings import Settings
from daemon.domain.inquiry import Channel
from daemon.store.queries import q
from daemon.store.repository import translated_errors

log = structlog.get_logger(__name__)

BATCH = 5000
SCORE_FLUSH_S = 30.0
# The computed tags the score reads (daemon/leads/tags.py sets them).
REGULAR_TAG = "постоянный турист"
COLD_TAG = "холодный"
# A preferred channel set by hand is one the daemon knows.
CHANNELS: tuple[str, ...] = get_args(Channel)


@dataclass(frozen=True)
class ScoreReport:
    contacts: int
    changed: int
    seconds: float

    def line(self) -> str:
        return f"scores refreshed: {self.contacts} contacts, {self.changed} changed in {self.seconds:.1f} s"


async def refresh_contacts(conn: asyncpg.Connection | asyncpg.Pool, ids: Sequence[int], settings: Settings,
                           *, now: datetime | None = None) -> int:
    """Refresh ``ids`` in one statement; how many changed."""
    if not ids:
        return 0
    with translated_errors():
        rows = await conn.fetch(q("scores_refresh"), list(ids), now or datetime.now(UTC),
                                list(settings.funnel.stages), REGULAR_TAG, COLD_TAG)
    return len(rows)


async def refresh_all(pool: asyncpg.Pool, settings: Settings, *, now: datetime | None = None,
                      batch: int = BATCH) -> ScoreReport:
    """Every active contact, ``batch`` at a time (one statement and one short transaction each)."""
    now = now or datetime.now(UTC)
    started = asyncio.get_running_loop().time()
    last, contacts, changed = 0, 0, 0
    while True:
        with translated_errors():
            ids = [r["id"] for r in await pool.fetch(q("scores_all_ids"), last, batch)]
        if not ids:
            break
        changed += await refresh_contacts(pool, ids, settings, now=now)
        contacts += len(ids)
        last = ids[-1]
    return ScoreReport(contacts=contacts, changed=changed,
                       seconds=asyncio.get_running_loop().time() - started)


async def flush_dirty(pool: asyncpg.Pool, settings: Settings, *, batch: int = BATCH) -> int:
    """Refresh the contacts marked dirty, a batch per transaction, until none is left; how many."""
    done = 0
    while True:
        with translated_errors():
            async with pool.acquire() as conn, conn.transaction():
                ids = sorted({r["contact_id"] for r in await conn.fetch(q("scores_take_dirty"), batch)})
                await refresh_contacts(conn, ids, settings)
        if not ids:
            return done
        done += len(ids)


async def flush_forever(pool: Callable[[], asyncpg.Pool], current: Callable[[], Settings]) -> None:
    """The daemon's score task: flush the dirty marks every SCORE_FLUSH_S; a failed round is logged."""
    while True:
        await asyncio.sleep(SCORE_FLUSH_S)
        try:
            count = await flush_dirty(pool(), current())
            if count:
                log.info("scores_flushed", contacts=count)
        except Exception as exc:  # noqa: BLE001 - the next round retries; the loop must live
            log.warning("scores_flush_failed", error=f"{type(exc).__name__}: {exc}")
