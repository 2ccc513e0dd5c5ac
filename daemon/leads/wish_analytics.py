"""Analytics by destination (``GET /api/analytics?by=destination``): the channel figures per country wanted.

The group of an inquiry is the destination country of its lead's wish (a manager's value
first; none: the group ``null``). The figures are the analytics' own definitions
(daemon/leads/analytics.py, ``aggregate``) over the reference rows of
``analytics_inquiries``, so they mean what the other groupings' do; this grouping reads
the raw tables rather than ``inquiry_facts``, whose rows know nothing of wishes.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from daemon.leads.analytics import Analytics, aggregate
from daemon.routing.policy import OfficeHours
from daemon.store.queries import q
from daemon.store.repository import translated_errors

WISH_GROUPINGS = ("destination",)


async def by_destination(pool: asyncpg.Pool, *, since: datetime, until: datetime, hours: OfficeHours) -> Analytics:
    with translated_errors():
        async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read", readonly=True):
            rows = [dict(r) for r in await conn.fetch(q("analytics_inquiries"), since, until)]
            leads = sorted({r["lead_id"] for r in rows if r["lead_id"] is not None})
            countries = {r["lead_id"]: r["country"] for r in await conn.fetch(q("wish_destinations"), leads)}
    for row in rows:
        row["destination"] = countries.get(row["lead_id"])
    return aggregate(rows, since=since, until=until, by="destination", hours=hours)
