"""inquiry_facts (migration 0017) stays what its view says while the data changes after it exists.

Analytics aggregate the summary table only, so every later write that can change an
inquiry's facts must reach it: a late answer, a lead won later by a booking, a merge of
contacts (analytics count distinct contacts), an event delivered again or out of order.
Each test changes the hand-counted week (tests/leadkit.py) and then compares the table
with its view row by row, and every figure of every grouping with aggregate() over the
reference query analytics_inquiries, which reads the raw tables.
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from config.settings import Settings
from daemon.leads.analytics import GROUPINGS, aggregate, analytics
from daemon.routing.policy import OfficeHours
from daemon.store.queries import q
from daemon.store.repository import Repository
from daemon.store.settle import settle
from tests.conftest import auth
from tests.integration.test_leads_analytics import close_week_leads
from tests.leadkit import (
    CALLBACK,
    MISSED,
    OFFICE_HOURS,
    P3,
    P5,
    WEEK_SINCE,
    WEEK_UNTIL,
    call_at,
    msk,
    post_call,
    post_week,
)
from tests.scenarios import replay

DIFFERENCE = """
    SELECT 'stale' AS side, * FROM (SELECT * FROM inquiry_facts EXCEPT SELECT * FROM inquiry_facts_source) s
    UNION ALL
    SELECT 'missing', * FROM (SELECT * FROM inquiry_facts_source EXCEPT SELECT * FROM inquiry_facts) m
"""


@pytest.fixture
async def week(client: TestClient, office: Repository) -> dict[str, str]:
    entries = await post_week(client)
    await close_week_leads(client, office, entries)
    return entries


async def facts(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    """The table once what the webhooks noted is settled, as analytics() reads it (migration 0036)."""
    await settle(pool)
    return await pool.fetch("SELECT * FROM inquiry_facts ORDER BY communication_id")


async def assert_analytics_current(settings: Settings, pool: asyncpg.Pool) -> None:
    await settle(pool)
    difference = [dict(r) for r in await pool.fetch(DIFFERENCE)]
    assert difference == []
    for hours in (OfficeHours.from_settings(settings),
                  OfficeHours.from_settings(settings.model_copy(update={"office_hours": OFFICE_HOURS}))):
        rows = [dict(r) for r in await pool.fetch(
            q("analytics_inquiries"), WEEK_SINCE, WEEK_UNTIL)]
        for by in GROUPINGS:
            expected = aggregate(rows, since=WEEK_SINCE, until=WEEK_UNTIL, by=by, hours=hours)
            counted = await analytics(pool, since=WEEK_SINCE, until=WEEK_UNTIL, by=by,
                                      hours=hours)
            assert (by, counted.rows, counted.totals) == (by, expected.rows, expected.totals)


async def test_the_migration_fills_the_table_from_what_is_there(
        settings: Settings, office: Repository, week: dict[str, str]) -> None:
    """Emptied and filled again as migration 0017 does, the table has the same rows."""
    before = await facts(office.pool)
    assert len(before) == 9  # the week's eight inquiries and #0, before the window
    await office.pool.execute("TRUNCATE inquiry_facts")
    await office.pool.execute("INSERT INTO inquiry_facts SELECT * FROM inquiry_facts_source")
    assert await facts(office.pool) == before


async def test_a_late_answer_delivered_out_of_order_reaches_the_missed_inquiry(
        settings: Settings, office: Repository, client: TestClient, week: dict[str, str]) -> None:
    """#8 (P5, Friday 10:00) was never reached; a callback at 16:00 arrives last event first."""
    pool = office.pool
    await settle(pool)
    assert await pool.fetchval("SELECT reached_at FROM inquiry_facts f JOIN communications c"
                               " ON c.id = f.communication_id WHERE c.entry_id = $1", week["w8"]) is None
    await replay(client, list(reversed(call_at(CALLBACK, name="late", number=P5, at=msk(7, 16)))))
    await settle(pool)
    reached = await pool.fetchval("SELECT reached_at FROM inquiry_facts f JOIN communications c"
                                  " ON c.id = f.communication_id WHERE c.entry_id = $1", week["w8"])
    assert reached is not None and reached >= msk(7, 16)
    await assert_analytics_current(settings, pool)


async def test_a_lead_won_later_by_a_trip_counts_as_won_with_its_revenue(
        settings: Settings, office: Repository, client: TestClient, week: dict[str, str]) -> None:
    """L4 (#5, P3) was open: it is won, then its booking is paid, then a second booking is cancelled."""
    pool = office.pool
    lead_id = await pool.fetchval("SELECT lead_id FROM communications WHERE entry_id = $1", week["w5"])
    resp = await client.put(f"/api/leads/{lead_id}/close", json={"outcome": "won"}, headers=auth())
    assert resp.status == 200, await resp.text()
    await pool.execute(
        "INSERT INTO trips (order_number, contact_id, lead_id, status, amount, starts_on, booked_at)"
        " SELECT o, contact_id, lead_id, 'pending', 42000, '2025-06-01', now()"
        " FROM communications, unnest(ARRAY['T4', 'T4x']) AS o WHERE entry_id = $1", week["w5"])
    await pool.execute("UPDATE trips SET status = 'paid' WHERE order_number = 'T4'")
    await pool.execute("UPDATE trips SET status = 'cancelled' WHERE order_number = 'T4x'")
    counted = await analytics(pool, since=WEEK_SINCE, until=WEEK_UNTIL, by="ad_source",
                              hours=OfficeHours.from_settings(settings))
    assert counted.totals["won"] == 3 and counted.totals["open"] == 0
    assert counted.totals["revenue"] == 230000.5 + 42000
    await assert_analytics_current(settings, pool)


async def test_a_merge_of_contacts_counts_them_as_one(
        settings: Settings, office: Repository, client: TestClient, week: dict[str, str]) -> None:
    """P3's contact merged into P5's: the week's distinct contacts drop from 6 to 5."""
    pool = office.pool

    async def contact(name: str) -> int:
        return await pool.fetchval("SELECT contact_id FROM communications WHERE entry_id = $1", week[name])

    resp = await client.post("/api/contacts/merge", headers=auth(),
                             json={"survivor_id": await contact("w8"), "merged_ids": [await contact("w5")]})
    assert resp.status == 200, await resp.text()
    counted = await analytics(pool, since=WEEK_SINCE, until=WEEK_UNTIL, by="ad_source",
                              hours=OfficeHours.from_settings(settings))
    assert counted.totals["contacts"] == 5
    await assert_analytics_current(settings, pool)


async def test_an_event_delivered_again_changes_nothing(
        settings: Settings, office: Repository, client: TestClient, week: dict[str, str]) -> None:
    """#5's events arrive a second time (a sender's retry), in reverse order."""
    pool = office.pool
    before = await facts(pool)
    await replay(client, list(reversed(call_at(MISSED, name="w5", number=P3, at=msk(5, 13)))))
    assert await facts(pool) == before
    await post_call(client, MISSED, name="w5", number=P3, at=msk(5, 13))
    assert await facts(pool) == before
    await assert_analytics_current(settings, pool)


async def test_a_deleted_communication_leaves_no_fact_and_no_stale_answer(
        settings: Settings, office: Repository, week: dict[str, str]) -> None:
    """#6 (P3's answered call) is removed: it leaves the table, and #5 is no longer reached by it."""
    pool = office.pool
    await pool.execute("DELETE FROM communications WHERE entry_id = $1", week["w6"])
    await assert_analytics_current(settings, pool)


async def test_a_booking_and_a_closing_of_the_same_lead_at_once_both_count(
        settings: Settings, office: Repository, week: dict[str, str]) -> None:
    """L4 (#5) gets a paid booking in one transaction while another closes it as won: the closing waits
    for the booking's facts and recomputes them after it, so neither write's fact is lost."""
    pool = office.pool
    lead_id = await pool.fetchval("SELECT lead_id FROM communications WHERE entry_id = $1", week["w5"])
    async with pool.acquire() as booking, pool.acquire() as closing:
        tx = booking.transaction()
        await tx.start()
        await booking.execute(
            "INSERT INTO trips (order_number, contact_id, lead_id, status, amount, starts_on, booked_at)"
            " SELECT 'T4', contact_id, lead_id, 'paid', 42000, '2025-06-01', now()"
            " FROM communications WHERE entry_id = $1", week["w5"])
        closed = asyncio.ensure_future(closing.execute(
            "UPDATE leads SET status = 'won', closed_at = now() WHERE id = $1", lead_id))
        while not await pool.fetchval(  # the closing waits for the booking's lock on the facts
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid = $1",
                closing.get_server_pid()):
            await asyncio.sleep(0.01)
        await tx.commit()
        await closed
    await assert_analytics_current(settings, pool)


async def test_an_earlier_inquiry_delivered_late_moved_and_deleted_keeps_the_distinct_counts(
        settings: Settings, office: Repository, client: TestClient, week: dict[str, str]) -> None:
    """Distinct contacts and leads are counted from each inquiry's previous one of the same
    contact and lead (migration 0019). A call of P3 on Monday, delivered after the week, is
    now the previous inquiry of #5 and #6; moved to Friday it is the last; deleted, the
    table is as before. #6 moved to another lead changes both leads' previous inquiries."""
    pool = office.pool
    before = await facts(pool)
    hours = OfficeHours.from_settings(settings)
    totals = (await analytics(pool, since=WEEK_SINCE, until=WEEK_UNTIL, by="ad_source", hours=hours)).totals
    early = await post_call(client, MISSED, name="early", number=P3, at=msk(3, 12))
    await settle(pool)
    prev = await pool.fetchval(
        "SELECT f.contact_prev_at FROM inquiry_facts f JOIN communications c ON c.id = f.communication_id"
        " WHERE c.entry_id = $1", week["w5"])
    assert prev == msk(3, 12)
    await assert_analytics_current(settings, pool)
    counted = (await analytics(pool, since=WEEK_SINCE, until=WEEK_UNTIL, by="ad_source", hours=hours)).totals
    assert (counted["inquiries"], counted["contacts"]) == (totals["inquiries"] + 1, totals["contacts"])
    await pool.execute("UPDATE communications SET started_at = $1 WHERE entry_id = $2", msk(7, 16), early)
    await assert_analytics_current(settings, pool)
    await pool.execute("DELETE FROM communications WHERE entry_id = $1", early)
    assert await facts(pool) == before
    other_lead = await pool.fetchval("SELECT lead_id FROM communications WHERE entry_id = $1", week["w1"])
    await pool.execute("UPDATE communications SET lead_id = $1 WHERE entry_id = $2", other_lead, week["w6"])
    await assert_analytics_current(settings, pool)
