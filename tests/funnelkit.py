"""Rows made to order for the funnel, score, campaign and reminder tests, written straight to PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from itertools import count

import asyncpg

_entries = count(1)


async def contact(pool: asyncpg.Pool, name: str, *, phone: str | None = None, email: str | None = None,
                  tags: tuple[str, ...] = (), do_not_call: bool = False, birthday: date | None = None,
                  responsible: str | None = None) -> int:
    contact_id = await pool.fetchval(
        "INSERT INTO contacts (name, tags, birthday, responsible_id)"
        " VALUES ($1, $2, $3, (SELECT id FROM managers WHERE extension = $4)) RETURNING id",
        name, list(tags), birthday, responsible)
    for kind, value in (("phone", phone), ("email", email)):
        if value is not None:
            await pool.execute(
                "INSERT INTO contact_identifiers (kind, value, contact_id, do_not_call_reason, do_not_call_since)"
                " VALUES ($1, $2, $3, $4, CASE WHEN $5 THEN now() END)",
                kind, value, contact_id, "просил не звонить" if do_not_call else None, do_not_call)
    return contact_id


async def lead(pool: asyncpg.Pool, contact_id: int, *, opened_at: datetime, status: str = "open",
               reason: str | None = None, ad_source: str | None = None) -> int:
    return await pool.fetchval(
        "INSERT INTO leads (contact_id, status, reason, ad_source, opened_at, last_activity_at, closed_at)"
        " VALUES ($1, $2::text, $3, $4, $5::timestamptz, $5, CASE WHEN $2 <> 'open' THEN $5 END) RETURNING id",
        contact_id, status, reason, ad_source, opened_at)


async def trip(pool: asyncpg.Pool, order: str, contact_id: int | None, starts: date, *, ends: date | None = None,
               status: str = "paid", amount: int = 100000, lead_id: int | None = None,
               manager: str | None = None) -> int:
    return await pool.fetchval(
        "INSERT INTO trips (order_number, contact_id, status, amount, starts_on, ends_on, booked_at, lead_id,"
        " manager_extension) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        order, contact_id, status, Decimal(amount), starts, ends or starts,
        datetime(starts.year, starts.month, 1), lead_id, manager)


async def communication(pool: asyncpg.Pool, contact_id: int, at: datetime, *, channel: str = "call",
                        direction: str = "inbound", status: str = "answered", lead_id: int | None = None,
                        ad_source: str | None = None, manager: str | None = None, note: str | None = None) -> int:
    return await pool.fetchval(
        "INSERT INTO communications (entry_id, channel, direction, status, contact_id, lead_id, started_at,"
        " ad_source, manager_extension, note, finished)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, true) RETURNING id",
        f"test-{next(_entries)}", channel, direction, status, contact_id, lead_id, at, ad_source, manager, note)
