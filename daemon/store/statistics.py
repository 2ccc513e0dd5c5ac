"""Planner statistics after a bulk command: ``ANALYZE`` of the tables it wrote (sql/queries/statistics.sql).

Without it, reads right after an import plan for the tables as they were before it
(autovacuum catches up later, or never where it is off): ``tags refresh`` walked the
communications index once per contact and ran into the statement timeout.
"""

from __future__ import annotations

import time

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
