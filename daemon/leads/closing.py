"""A lead's end: closed by a manager as won or lost (with a reason), or archived when stale.

Joining and opening leads is ``Tx.open_lead`` (daemon/store/repository.py), the one
entry point every channel goes through; this module is the rest of the life.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal

import asyncpg

from daemon.store.queries import q
from daemon.store.repository import translated_errors
from daemon.store.statistics import analyze_written

STATUSES = ("open", "won", "lost", "archived", "merged")
Outcome = Literal["won", "lost"]
MAX_LEADS = 1000


class LeadError(Exception):
    """A close the lead's state or the input does not allow; ``status`` is the HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def validate_close(outcome: object, reason: object, reasons: Sequence[str]) -> tuple[Outcome, str | None]:
    """The (outcome, reason) of a close request, or LeadError(400) saying what is wrong.

    A lost lead needs one of the configured reasons; a won lead may carry none.
    """
    if outcome not in ("won", "lost"):
        raise LeadError(400, 'outcome must be "won" or "lost"')
    if reason is not None and not isinstance(reason, str):
        raise LeadError(400, "reason must be text")
    reason = (reason or "").strip() or None
    if outcome == "lost":
        if reason is None:
            raise LeadError(400, f"a lost lead needs a reason, one of: {', '.join(reasons)}")
        matched = [r for r in reasons if r.casefold() == reason.casefold()]
        if not matched:
            raise LeadError(400, f"unknown reason {reason!r}, expected one of: {', '.join(reasons)}")
        reason = matched[0]
    return outcome, reason  # type: ignore[return-value]


async def close_lead(pool: asyncpg.Pool, lead_id: int, outcome: Outcome, reason: str | None) -> dict[str, Any]:
    """Close the lead; LeadError 404 (no such lead) or 409 (already won, lost or merged)."""
    with translated_errors():
        async with pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(q("lead_close"), lead_id, outcome, reason)
            if row is None:
                status = await conn.fetchval(q("lead_status"), lead_id)
    if row is not None:
        return dict(row)
    if status is None:
        raise LeadError(404, f"no lead {lead_id}")
    raise LeadError(409, f"lead {lead_id} is already {status}")


async def list_leads(pool: asyncpg.Pool, *, contact_id: int | None, status: str | None,
                     limit: int = MAX_LEADS) -> list[dict[str, Any]]:
    with translated_errors():
        rows = await pool.fetch(q("leads_list"), contact_id, status, limit)
    return [dict(r) for r in rows]


async def archive_stale(pool: asyncpg.Pool, *, stale_days: int, now: datetime | None = None) -> list[int]:
    """Archive every open lead quiet for ``stale_days``; the ids archived (none on a second run)."""
    now = now or datetime.now(UTC)
    with translated_errors():
        rows = await pool.fetch(q("leads_archive_stale"), stale_days, now)
    if rows:
        await analyze_written(pool, "analyze_leads_archive")
    return [r["id"] for r in rows]


def lead_json(row: dict[str, Any]) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.astimezone(UTC).isoformat() if value else None

    return {
        "id": row["id"],
        "contact_id": row["contact_id"],
        "status": row["status"],
        "reason": row["reason"],
        "ad_source": row["ad_source"],
        "opened_at": iso(row["opened_at"]),
        "last_activity_at": iso(row["last_activity_at"]),
        "closed_at": iso(row["closed_at"]),
        "previous_lead_id": row["previous_lead_id"],
        "communication_ids": list(row["communication_ids"]),
    }
