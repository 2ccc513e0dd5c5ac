"""The lead's wish in the database: read it (with the lead), and a manager's edit.

The inquiries write the parsed side (daemon/inquiries/wish_step.py); this module reads
both sides and writes only the manager's (sql/queries/wishes.sql).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import asyncpg

from daemon.domain.errors import BadInput
from daemon.leads.closing import lead_json
from daemon.store.queries import q
from daemon.store.repository import translated_errors
from daemon.wishes.edit import edited_fields
from daemon.wishes.present import effective, flat, wish_document


def _json(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else (value or {})


async def lead_with_wish(pool: asyncpg.Pool, lead_id: int) -> dict[str, Any]:
    """``GET /api/leads/{id}``: the lead as the list gives it, with ``wish`` (None when nothing is known)."""
    with translated_errors():
        row = await pool.fetchrow(q("wish_of_lead"), lead_id)
    if row is None:
        raise BadInput(404, f"no lead {lead_id}")
    return {**lead_json(dict(row)), "wish": wish_document(_json(row["parsed"]), _json(row["edited"]))}


async def wish_of(pool: asyncpg.Pool, lead_id: int) -> dict[str, Any] | None:
    return (await lead_with_wish(pool, lead_id))["wish"]


async def edit_wish(pool: asyncpg.Pool, lead_id: int, body: Any, *, by: str) -> dict[str, Any] | None:
    """Set the fields a manager gave; the wish as it is now. 404 for no such lead, 400 for a bad field."""
    with translated_errors():
        async with pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(q("wish_of_lead"), lead_id)
            if row is None:
                raise BadInput(404, f"no lead {lead_id}")
            current = flat(effective(_json(row["parsed"]), _json(row["edited"])))
            fields = edited_fields(body, current, by=by, at=datetime.now(UTC))
            saved = await conn.fetchrow(q("wish_edit"), lead_id, json.dumps(fields, ensure_ascii=False))
    return wish_document(_json(saved["parsed"]), _json(saved["edited"]))
