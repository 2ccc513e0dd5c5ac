"""The inbox's reads and writes (sql/queries/inbox.sql); asyncpg's errors become ours here."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from daemon.domain.errors import BadInput
from daemon.http.boundary import plain
from daemon.store.queries import q
from daemon.store.repository import translated_errors

# A screen is "signed in" while its daemon refreshed its row this recently.
PRESENCE_S = 30.0
MAX_ITEMS = 1000
ITEM_FIELDS = ("id", "kind", "communication_id", "contact_id", "name", "phone", "channel", "source",
               "received_at", "due_at", "assigned_extension", "assign_reason", "last_text")


def item_json(row: Any, now: datetime) -> dict[str, Any]:
    """One item as the API and the screen show it: overdue and waiting_s as of ``now``."""
    item = {name: plain(row[name]) for name in ITEM_FIELDS}
    if row["task_id"] is not None:
        item["task_id"] = row["task_id"]
    due = row["due_at"]
    # Past due by this clock, or the overdue step has fired (by another daemon's clock).
    item["overdue"] = (due is not None and due <= now) or row["overdue_at"] is not None
    item["waiting_s"] = max(0, int((now - row["received_at"]).total_seconds()))
    return item


async def list_items(pool: asyncpg.Pool, *, now: datetime, extension: str | None = None,
                     screen: bool = False, limit: int = 100) -> dict[str, Any]:
    """``{total, items}``: open items (assigned to ``extension``; on a ``screen``, his and the
    unassigned), overdue first, then by due time."""
    with translated_errors():
        async with pool.acquire() as conn:
            if extension is None:
                total = await conn.fetchval(q("inbox_count_all"))
                rows = await conn.fetch(q("inbox_list_all"), limit)
            else:
                which = "screen" if screen else "assigned"
                total = await conn.fetchval(q(f"inbox_count_{which}"), extension)
                rows = await conn.fetch(q(f"inbox_list_{which}"), extension, limit)
    return {"total": total, "items": [item_json(r, now) for r in rows]}


async def item(pool: asyncpg.Pool, item_id: int, now: datetime) -> dict[str, Any] | None:
    with translated_errors():
        row = await pool.fetchrow(q("inbox_item"), item_id)
    if row is None:
        return None
    found = item_json(row, now)
    found.update({name: plain(row[name]) for name in ("state", "closed_at", "closed_reason", "closed_by",
                                                          "closed_note")})
    return found


async def close_item(pool: asyncpg.Pool, item_id: int, *, extension: str, reason: str | None) -> dict[str, Any]:
    """Closed by a manager; BadInput 404 (no such item) or 409 (already closed)."""
    with translated_errors():
        async with pool.acquire() as conn:
            row = await conn.fetchrow(q("inbox_done"), item_id, extension, reason)
            state = None if row is not None else await conn.fetchval(q("inbox_state"), item_id)
    if row is not None:
        return {name: plain(value) for name, value in dict(row).items()}
    if state is None:
        raise BadInput(404, f"no inbox item {item_id}")
    raise BadInput(409, f"inbox item {item_id} is already closed")


async def decisions(pool: asyncpg.Pool, item_id: int) -> list[dict[str, Any]]:
    with translated_errors():
        rows = await pool.fetch(q("inbox_decisions"), item_id)
    return [{name: plain(value) for name, value in dict(r).items()} for r in rows]


async def set_shift(pool: asyncpg.Pool, extension: str, on: bool) -> dict[str, Any]:
    with translated_errors():
        row = await pool.fetchrow(q("manager_shift_set"), extension, on)
    return {name: plain(value) for name, value in dict(row).items()}


async def on_shift(pool: asyncpg.Pool, extension: str, now: datetime) -> bool:
    with translated_errors():
        return bool(await pool.fetchval(q("manager_on_shift"), extension, now, PRESENCE_S))


async def refresh_presence(pool: asyncpg.Pool, daemon_id: str, extensions: Sequence[str], now: datetime) -> None:
    """This daemon's signed-in screens, as of ``now`` (the others of this daemon are gone)."""
    with translated_errors():
        await pool.execute(q("screen_presence_refresh"), daemon_id, sorted(set(extensions)), now)


async def signed_in(pool: asyncpg.Pool, extension: str) -> None:
    with translated_errors():
        await pool.execute(q("screen_signed_in"), extension)


async def forget_presence(pool: asyncpg.Pool, daemon_id: str) -> None:
    with translated_errors():
        await pool.execute(q("screen_presence_forget"), daemon_id)


def notice(kind: str, **fields: Any) -> str:
    """A payload for callbridge_inbox (NOTIFY takes under 8,000 bytes: ids, not items)."""
    return json.dumps({"type": kind, **fields}, separators=(",", ":"))
