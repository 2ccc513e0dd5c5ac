"""The sales funnel: a lead's stage, moved by a manager (any direction) or by its booking.

A lead starts at the first of ``[funnel] stages`` (``leads.stage`` NULL), a manager
moves it with ``PUT /api/leads/{id}/stage`` and every move is journaled in
``lead_stages`` (when, who). A booking that wins the lead moves it to
``paid_stage``; the start of that trip moves it to ``trip_stage`` (``advance``, run
after a trips import and nightly; idempotent).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg

from config.settings import FunnelSettings
from daemon.domain.errors import BadInput
from daemon.http.boundary import plain
from daemon.store.queries import q
from daemon.store.repository import translated_errors


class StageError(BadInput):
    """A stage the settings do not know, or a lead that cannot move (404)."""


def checked_stage(stage: object, funnel: FunnelSettings) -> str:
    """The configured stage ``stage`` names (case-insensitively); StageError(400) otherwise."""
    if isinstance(stage, str):
        for known in funnel.stages:
            if known.casefold() == stage.strip().casefold():
                return known
    raise StageError(400, f"stage must be one of: {', '.join(funnel.stages)}")


async def move_stage(pool: asyncpg.Pool, lead_id: int, stage: str, extension: str | None) -> None:
    """Move the lead to ``stage``, journaled with ``extension``; StageError(404) when there is no such lead."""
    with translated_errors():
        moved = await pool.fetchval(q("lead_stage_move"), lead_id, stage, extension)
    if moved is None:
        raise StageError(404, f"no lead {lead_id}")


async def lead_with_stages(pool: asyncpg.Pool, lead_id: int, funnel: FunnelSettings) -> dict[str, Any]:
    """The lead as ``GET /api/leads/{id}`` shows it: its stage and every stage it went through."""
    with translated_errors():
        async with pool.acquire() as conn:
            row = await conn.fetchrow(q("lead_detail"), lead_id)
            journal = await conn.fetch(q("lead_stage_journal"), lead_id) if row is not None else []
    if row is None:
        raise StageError(404, f"no lead {lead_id}")
    first = {"stage": funnel.stages[0], "at": plain(row["opened_at"]), "extension": None}
    return {
        "id": row["id"], "contact_id": row["contact_id"], "status": row["status"], "reason": row["reason"],
        "ad_source": row["ad_source"], "opened_at": plain(row["opened_at"]),
        "last_activity_at": plain(row["last_activity_at"]), "closed_at": plain(row["closed_at"]),
        "previous_lead_id": row["previous_lead_id"], "communication_ids": list(row["communication_ids"]),
        "stage": row["stage"] or funnel.stages[0],
        "stages": [first, *({"stage": r["stage"], "at": plain(r["at"]), "extension": r["extension"]}
                            for r in journal)],
    }


async def advance(conn: asyncpg.Connection | asyncpg.Pool, funnel: FunnelSettings, *, timezone: str,
                  now: datetime | None = None) -> int:
    """Leads won by a booking to ``paid_stage``, those whose trip started to ``trip_stage``; how many moved."""
    now = now or datetime.now(UTC)
    with translated_errors():
        won = await conn.fetch(q("funnel_won_by_booking"), funnel.paid_stage, funnel.trip_stage)
        started = await conn.fetch(q("funnel_trips_started"), funnel.trip_stage, now.date(), timezone)
    return len(won) + len(started)
