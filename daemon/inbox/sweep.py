"""The inbox's sweep: one supervised task per daemon, every ``SWEEP_S``.

Each pass: give new items their due time (the office calendar lives in the
settings, not in PostgreSQL), assign the unassigned (``inbox_assign_v1``, one
daemon at a time), fire the overdue step and the escalation step of the items
whose time has come, count closed items' first responses, and set the gauge.

Two daemons sweep the same table: each step claims its rows with ``FOR UPDATE
SKIP LOCKED`` and marks them fired in the same transaction, so a step fires once
whichever daemon gets there first. A pass every second keeps every step well
within 30 s of its time, and a freed slot is filled within 5 s. The escalation
e-mail is sent after the commit that marks the step fired: at most once (a crash
between the two loses one e-mail, never sends two).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog

from config.settings import Settings, SettingsError
from daemon.domain.errors import CallbridgeError, StorageError, StorageUnavailable
from daemon.inbox import store
from daemon.inbox.clock import due_at
from daemon.inbox.escalation import escalation_message
from daemon.report.mail import send_message
from daemon.runtime.metrics import Metrics
from daemon.store.queries import q
from daemon.store.repository import Repository, translated_errors

log = structlog.get_logger(__name__)

SWEEP_S = 1.0
# The gauge counts every open item (16 ms at 10,000 on a loaded machine): not every pass.
COUNT_EVERY_S = 10.0
BATCH = 500
# Replies and call-backs are first responses; a miss that turned out answered and a
# manager's "done" (spam, a duplicate) are not.
RESPONSES = ("replied", "called_back")

Clock = Callable[[], datetime]


def wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class SweepResult:
    """What one pass did (for the log and the tests)."""

    clocked: int = 0
    assigned: int = 0
    overdue: list[int] = field(default_factory=list)
    escalated: list[int] = field(default_factory=list)


class InboxSweep:
    def __init__(self, repo: Repository, *, settings: Callable[[], Settings], metrics: Metrics | None = None,
                 clock: Clock = wall_clock) -> None:
        self._repo = repo
        self._settings = settings
        self._metrics = metrics
        self._clock = clock
        self._counted_at = float("-inf")
        self.count_every_s = COUNT_EVERY_S  # tests count every pass

    async def run_forever(self) -> None:
        """Supervised task: a pass every SWEEP_S; PostgreSQL away is a warning, not a crash."""
        while True:
            try:
                result = await self.sweep_once()
                if result.overdue or result.escalated:
                    log.info("inbox_swept", overdue=len(result.overdue), escalated=len(result.escalated))
            except (StorageUnavailable, StorageError) as exc:
                log.warning("inbox_sweep_failed", error=str(exc))
            await asyncio.sleep(SWEEP_S)

    async def sweep_once(self) -> SweepResult:
        settings, now = self._settings(), self._clock()
        pool = self._repo.pool
        result = SweepResult()
        result.clocked = await self._clock_new(pool, settings)
        with translated_errors():
            result.assigned = await pool.fetchval(q("inbox_assign"), now, store.PRESENCE_S,
                                                  settings.assignment.cap)
        result.overdue = await self._overdue(pool, settings, now)
        escalated = await self._escalate(pool, settings, now)
        result.escalated = [item["id"] for item in escalated]
        if escalated and settings.sla.notify_email:
            await self._mail(escalated, settings)
        await self._observe(pool)
        await self._count(pool, now)
        return result

    async def _clock_new(self, pool: asyncpg.Pool, settings: Settings) -> int:
        with translated_errors():
            async with pool.acquire() as conn, conn.transaction():
                rows = await conn.fetch(q("inbox_unclocked"), BATCH)
                if not rows:
                    return 0
                due = [due_at(settings, channel=r["channel"], received_at=r["received_at"]) for r in rows]
                await conn.execute(q("inbox_set_due"), [r["id"] for r in rows], due)
        return len(rows)

    async def _overdue(self, pool: asyncpg.Pool, settings: Settings, now: datetime) -> list[int]:
        admin = settings.routing.administrator_extension
        with translated_errors():
            async with pool.acquire() as conn, conn.transaction():
                rows = await conn.fetch(q("inbox_overdue_claim"), now, BATCH)
                for row in rows:
                    to = _recipients(row["assigned_extension"], admin)
                    await conn.execute(q("inbox_notify"), store.notice("overdue", id=row["id"], to=to))
        return [row["id"] for row in rows]

    async def _escalate(self, pool: asyncpg.Pool, settings: Settings, now: datetime) -> list[dict[str, Any]]:
        admin = settings.routing.administrator_extension
        minutes = settings.sla.escalate_after_minutes
        escalated: list[int] = []
        with translated_errors():
            async with pool.acquire() as conn, conn.transaction():
                for row in await conn.fetch(q("inbox_escalation_claim"), now, minutes, BATCH):
                    extension = await conn.fetchval(q("inbox_escalate"), row["id"], now, store.PRESENCE_S, admin)
                    to = _recipients(extension, admin)
                    await conn.execute(q("inbox_notify"), store.notice("escalated", id=row["id"], to=to))
                    escalated.append(row["id"])
        found = [await store.item(pool, item_id, now) for item_id in escalated]
        return [item for item in found if item is not None]

    async def _mail(self, items: list[dict[str, Any]], settings: Settings) -> None:
        try:
            await send_message(escalation_message(items, settings), settings, what="the escalation e-mail")
        except (CallbridgeError, SettingsError) as exc:  # MailError, or no smtp_host: the step stays fired
            log.warning("inbox_escalation_mail_failed", items=len(items), error=str(exc))
        else:
            log.info("inbox_escalation_mailed", items=len(items))

    async def _observe(self, pool: asyncpg.Pool) -> None:
        with translated_errors():
            rows = await pool.fetch(q("inbox_observe_closed"), BATCH)
        if self._metrics is None:
            return
        for row in rows:
            if row["closed_reason"] in RESPONSES:
                self._metrics.first_response.observe(max(0.0, row["seconds"]))

    async def _count(self, pool: asyncpg.Pool, now: datetime) -> None:
        if self._metrics is None or time.monotonic() - self._counted_at < self.count_every_s:
            return
        self._counted_at = time.monotonic()
        with translated_errors():
            row = await pool.fetchrow(q("inbox_states"), now)
        for state in ("overdue", "queued", "assigned"):
            self._metrics.inbox_items.labels(state).set(row[state])


def _recipients(*extensions: str | None) -> list[str]:
    return list(dict.fromkeys(e for e in extensions if e))
