"""Reminders as tasks to the responsible manager: birthdays, «Как съездили?», the next season.

``refresh_tasks`` (``callbridge tasks refresh``, nightly) inserts every reminder due
by today in one statement (``tasks_refresh``); each has a unique (kind, key), so a
second run changes nothing. Each task names its contact, the assigned extension
and ``due_at`` (the inbox of inquiries lists them as ``kind: "task"``; until then
``GET /api/tasks?extension=``). ``POST /api/tasks/{id}/done`` closes one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from config.settings import Settings
from daemon.domain.errors import BadInput
from daemon.http.boundary import plain
from daemon.store.queries import q
from daemon.store.repository import translated_errors

KINDS = ("birthday", "after_trip", "next_season")
MAX_TASKS = 500


@dataclass(frozen=True)
class TasksReport:
    added: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        counts = ", ".join(f"{kind} {self.added.get(kind, 0)}" for kind in KINDS)
        return f"tasks refreshed: {sum(self.added.values())} added ({counts})"


async def refresh_tasks(conn: asyncpg.Connection | asyncpg.Pool, settings: Settings, *,
                        now: datetime | None = None) -> TasksReport:
    """Add the reminders due by today (office time); idempotent."""
    today = (now or datetime.now(UTC)).astimezone(settings.tz).date()
    with translated_errors():
        rows = await conn.fetch(q("tasks_refresh"), today, settings.timezone, settings.tasks.birthday_days_ahead,
                                settings.tasks.after_trip_days, settings.tasks.next_season_days)
    added: dict[str, int] = {}
    for row in rows:
        added[row["kind"]] = added.get(row["kind"], 0) + 1
    return TasksReport(added=added)


def task_json(row: asyncpg.Record) -> dict[str, Any]:
    """A task as the inbox will list it: ``kind`` "task", what it reminds of in ``task_kind``."""
    doc = {k: plain(v) for k, v in dict(row).items()}
    doc["task_kind"] = doc.pop("kind")
    return {"kind": "task", **doc}


async def open_tasks(pool: asyncpg.Pool, *, extension: str | None, horizon_days: int,
                     now: datetime | None = None, limit: int = MAX_TASKS) -> list[dict[str, Any]]:
    """Open tasks of ``extension`` due within ``horizon_days``, the earliest first."""
    until = (now or datetime.now(UTC)) + timedelta(days=horizon_days)
    with translated_errors():
        rows = await pool.fetch(q("tasks_open"), extension, until, limit)
    return [task_json(r) for r in rows]


async def mark_done(pool: asyncpg.Pool, task_id: int, by: str | None) -> dict[str, Any]:
    with translated_errors():
        row = await pool.fetchrow(q("task_done"), task_id, by)
    if row is None:
        raise BadInput(404, f"no task {task_id}")
    return task_json(row)
