"""The nightly jobs in the daemon: reminders, the funnel's trips, every score; once a day in all.

At ``[tasks] nightly_at`` (office time), or at start when today's run is missing
and that time is past, the daemon that first inserts today's row into
``nightly_runs`` runs the jobs; another daemon finds the row and skips, so two
daemons run them once. ``callbridge tasks refresh`` and ``callbridge scores
refresh`` run the same jobs by hand or from the systemd timer
(``nightly_in_daemon = false`` then).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import asyncpg
import structlog

from config.settings import Settings
from daemon.contacts.score import refresh_all
from daemon.leads.funnel import advance
from daemon.leads.reminders import refresh_tasks
from daemon.store.queries import q
from daemon.store.repository import translated_errors

log = structlog.get_logger(__name__)

JOB = "nightly"
# The loop wakes at least this often, so that a reloaded nightly_at takes effect.
WAKE_S = 300.0
# The first look comes ten minutes after start: the database, the intake and a restart's
# catch-up come first (and a short-lived test daemon never runs the jobs).
START_DELAY_S = 600.0


async def run_jobs(pool: asyncpg.Pool, settings: Settings, *, now: datetime | None = None) -> list[str]:
    """Reminders, the funnel's trips and every score, as of ``now``; their summary lines."""
    now = now or datetime.now(UTC)
    tasks = await refresh_tasks(pool, settings, now=now)
    moved = await advance(pool, settings.funnel, timezone=settings.timezone, now=now)
    scores = await refresh_all(pool, settings, now=now)
    return [tasks.line(), f"funnel: {moved} leads moved by their bookings and trips", scores.line()]


def due_today(settings: Settings, now: datetime) -> tuple[date, bool]:
    """Today (office time) and whether its nightly time has come."""
    local = now.astimezone(settings.tz)
    return local.date(), local.time() >= settings.tasks.nightly_at


async def run_once_today(pool: asyncpg.Pool, settings: Settings, *, now: datetime | None = None) -> bool:
    """Run the jobs if their time has come today and no daemon ran them yet; whether this one did."""
    now = now or datetime.now(UTC)
    day, due = due_today(settings, now)
    if not due:
        return False
    with translated_errors():
        if await pool.fetchval(q("nightly_claim"), JOB, day) is None:
            return False
    try:
        lines = await run_jobs(pool, settings, now=now)
    except BaseException:
        with translated_errors():
            await pool.execute(q("nightly_unclaim"), JOB, day)
        raise
    with translated_errors():
        await pool.execute(q("nightly_finished"), JOB, day)
    log.info("nightly_done", day=day.isoformat(), summary=lines)
    return True


def seconds_to_next(settings: Settings, now: datetime) -> float:
    local = now.astimezone(settings.tz)
    at = datetime.combine(local.date(), settings.tasks.nightly_at, tzinfo=settings.tz)
    if at <= local:
        at += timedelta(days=1)
    return max(1.0, (at - local).total_seconds())


async def nightly_forever(pool: Callable[[], asyncpg.Pool], current: Callable[[], Settings]) -> None:
    """The daemon's ``nightly`` task; a failed round is logged and tried again at the next wake."""
    await asyncio.sleep(START_DELAY_S)
    while True:
        settings = current()
        if settings.tasks.nightly_in_daemon:
            try:
                await run_once_today(pool(), settings)
            except Exception as exc:  # noqa: BLE001 - the loop must live; the next wake retries
                log.warning("nightly_failed", error=f"{type(exc).__name__}: {exc}")
        await asyncio.sleep(min(WAKE_S, seconds_to_next(settings, datetime.now(UTC))))
