"""Planner statistics after a bulk command: ``ANALYZE`` of the tables it wrote (sql/queries/statistics.sql).

Without it, reads right after an import plan for the tables as they were before it
(autovacuum catches up later, or never where it is off): ``tags refresh`` walked the
communications index once per contact and ran into the statement timeout.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import asyncpg
import structlog

from daemon.store.queries import q
from daemon.store.repository import translated_errors

log = structlog.get_logger(__name__)

# ANALYZE reads a sample of each table (300 x default_statistics_target rows), so it
# takes seconds even at millions of rows; the pool's hot-path timeout is far shorter.
ANALYZE_TIMEOUT_S = 600.0


async def analyze_written(db: asyncpg.Pool | asyncpg.Connection, query: str) -> float:
    """Run the named ANALYZE query; the seconds it took."""
    started = time.monotonic()
    with translated_errors():
        await db.execute(q(query), timeout=ANALYZE_TIMEOUT_S)
    seconds = time.monotonic() - started
    log.info("tables_analyzed", query=query, seconds=round(seconds, 3))
    return seconds


# How often the daemon looks for tables whose statistics are stale, and how long it lets
# a running autovacuum take before it analyzes them itself.
KEEP_EVERY_S = 2.0
AUTOVACUUM_GRACE_S = 120.0


async def analyze_stale(pool: asyncpg.Pool, *, grace_s: float = AUTOVACUUM_GRACE_S) -> list[str]:
    """ANALYZE each of our tables that changed past autovacuum's threshold and that autovacuum
    leaves alone (off, or lagging ``grace_s``), and VACUUM our work queues on the same terms; the
    tables analyzed and vacuumed. One daemon at a time: the others skip the round."""
    async with pool.acquire() as conn:
        if not await conn.fetchval(q("statistics_lock")):
            return []
        try:
            stale = [r["relname"] for r in await conn.fetch(q("stale_statistics"), grace_s)]
            for table in stale:
                await conn.execute(f"ANALYZE {_quoted(table)}", timeout=ANALYZE_TIMEOUT_S)
            # The work queues' dead rows, where nobody else vacuums them (a few pages: quick).
            swept = [r["relname"] for r in await conn.fetch(q("queues_to_vacuum"), grace_s)]
            for table in swept:
                await conn.execute(f"VACUUM {_quoted(table)}", timeout=ANALYZE_TIMEOUT_S)
        finally:
            await conn.fetchval(q("statistics_unlock"))
    if stale:
        log.info("statistics_refreshed", tables=stale)
    if swept:
        log.info("queues_vacuumed", tables=swept)
    return stale + swept


def _quoted(table: str) -> str:
    """A name PostgreSQL gave (pg_stat_user_tables), quoted as an identifier."""
    return '"' + table.replace('"', '""') + '"'


async def keep_statistics_forever(pool: Callable[[], asyncpg.Pool]) -> None:
    """The daemon's statistics task: every KEEP_EVERY_S, ``analyze_stale``; a failed round is logged.

    Autovacuum may be off on the agency's server, or behind: a table the webhooks grew from empty
    would be planned as empty for as long, and a plan made for an empty table can cost a walk of
    the whole table per row written (docs/OPERATIONS.md, «Статистика планировщика»)."""
    while True:
        await asyncio.sleep(KEEP_EVERY_S)
        try:
            await analyze_stale(pool())
        except Exception as exc:  # noqa: BLE001 - the next round retries; the loop must live
            log.warning("statistics_refresh_failed", error=f"{type(exc).__name__}: {exc}")
