"""What the webhooks' writes leave to just after their commit (migration 0036).

A delivery's transaction notes the contacts and inquiries it touched (``settle_pending``)
instead of bringing two summaries up to date while the sender waits for its 200: the
duplicate candidates (0.9 ms of PostgreSQL's time per new contact in the messenger bench)
and the analytics' facts (0.7 ms per new inquiry). The "settle" task brings the noted rows
up to date every ``SETTLE_EVERY_S``, ``BATCH`` rows per statement and transaction, in any
number of daemons at once (each takes rows the others do not: SKIP LOCKED). A read of
either summary calls ``settle`` first, which waits for what another daemon is settling:
what a reader sees never lags a delivery already answered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
import structlog

from daemon.domain.errors import StorageError
from daemon.store.database import retryable
from daemon.store.queries import q
from daemon.store.repository import translated_errors

log = structlog.get_logger(__name__)

SETTLE_EVERY_S = 1.0
BATCH = 500
ATTEMPTS = 3
# /health warns once a noted row has waited this long: the task is failing or cannot keep up.
LAG_WARN_S = 60.0


async def settle(db: asyncpg.Pool | asyncpg.Connection, *, batch: int = BATCH, wait: bool = True) -> int:
    """Settle the noted rows, ``batch`` per transaction, until none is left; how many.

    ``wait``: a reader's, which waits for the rows another daemon's task holds (so it reads
    after they are settled); the task skips them."""
    done = 0
    attempt = 1
    while True:
        try:
            with translated_errors():
                count = int(await db.fetchval(q("settle_noted"), batch, wait))
        except StorageError as exc:
            # A deadlock with a writer that updates the same summaries at once (an import, a
            # merge from the screen): the round was rolled back, its rows are noted still.
            if not retryable(exc) or attempt >= ATTEMPTS:
                raise
            attempt += 1
            continue
        done += count
        if count < batch:
            return done


async def lag(pool: asyncpg.Pool, *, timeout_s: float) -> tuple[int, float]:
    """How many rows wait to be settled, and the seconds the oldest has waited (for /health)."""
    with translated_errors():
        row = await pool.fetchrow(q("settle_lag"), timeout=timeout_s)
    return int(row["noted"]), float(row["oldest_s"])


async def settle_forever(pool: Callable[[], asyncpg.Pool]) -> None:
    """The daemon's "settle" task; a failed round (a deadlock with a merge, PostgreSQL away)
    is logged, and its rows, rolled back, are taken again by the next one."""
    while True:
        await asyncio.sleep(SETTLE_EVERY_S)
        try:
            count = await settle(pool(), wait=False)
            if count:
                log.debug("settled", rows=count)
        except Exception as exc:  # noqa: BLE001 - the next round retries; the loop must live
            log.warning("settle_failed", error=f"{type(exc).__name__}: {exc}")
