"""lost_client_facts (migration 0025) stays what its view says while the data changes after it exists.

The lost-clients list reads the summary table only, so every write that can change
whether a buyer is lost must reach it: a trip paid, cancelled, moved or deleted; a
call (a contact called back leaves the list); a lead opened or closed; «Не звонить»
set or lifted; a contact merged (and the merge undone), removed or deleted. Each test
changes the office of test_leads_lost_clients and then compares the table with its
view row by row, and the list with the one main's query (the raw tables) gives.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
from aiohttp.test_utils import TestClient

from config.settings import Settings
from daemon.leads.lost import lost_clients
from daemon.store.repository import Repository
from tests.conftest import auth
from tests.integration.test_leads_lost_clients import NOW, call, contact, lost_office, trip

DIFFERENCE = """
    SELECT 'stale' AS side, * FROM (SELECT * FROM lost_client_facts EXCEPT SELECT * FROM lost_client_facts_source) s
    UNION ALL
    SELECT 'missing', * FROM (SELECT * FROM lost_client_facts_source EXCEPT SELECT * FROM lost_client_facts) m
"""

# The list as computed from the raw tables, before the summary table (the reference).
RAW_LOST = """
    WITH paid AS (
        SELECT t.contact_id, count(*) AS paid_trips, COALESCE(sum(t.amount), 0) AS revenue,
               max(COALESCE(t.ends_on, t.starts_on)) AS last_trip_end
        FROM trips t WHERE t.status = 'paid' AND t.contact_id IS NOT NULL GROUP BY t.contact_id)
    SELECT c.id AS contact_id, p.paid_trips, p.revenue, p.last_trip_end
    FROM paid p JOIN contacts c ON c.id = p.contact_id
    WHERE c.merged_into IS NULL AND c.removed_at IS NULL
      AND p.last_trip_end < ($1::timestamptz - make_interval(months => $2::int))::date
      AND NOT EXISTS (SELECT 1 FROM leads l WHERE l.contact_id = c.id AND l.status = 'open')
      AND NOT EXISTS (SELECT 1 FROM communications x WHERE x.contact_id = c.id
                      AND x.started_at >= $1::timestamptz - make_interval(months => $3::int))
      AND NOT EXISTS (SELECT 1 FROM contact_identifiers d WHERE d.contact_id = c.id
                      AND d.do_not_call_since IS NOT NULL)
    ORDER BY p.revenue DESC, c.id
"""


async def assert_current(settings: Settings, pool: asyncpg.Pool) -> list[int]:
    """The table equals its view, and the list equals the raw tables' list; the list's ids."""
    assert [dict(r) for r in await pool.fetch(DIFFERENCE)] == []
    months = (settings.leads.lost_client_trip_months, settings.leads.lost_client_silence_months)
    expected = [dict(r) for r in await pool.fetch(RAW_LOST, NOW, *months)]
    listed = await lost_clients(pool, settings, now=NOW)
    assert [{k: r[k] for k in ("contact_id", "paid_trips", "revenue", "last_trip_end")} for r in listed] == expected
    return [r["contact_id"] for r in listed]


async def test_the_table_holds_every_buyer_and_the_migration_fills_it_again(
        settings: Settings, office: Repository) -> None:
    ids = await lost_office(office.pool)
    assert await assert_current(settings, office.pool) == [ids["two"], ids["one"]]  # 500,000 and 420,000.50
    before = await office.pool.fetch("SELECT * FROM lost_client_facts ORDER BY contact_id")
    assert len(before) == 7  # every contact with a paid trip, lost or not (not «Только отмена»)
    await office.pool.execute("TRUNCATE lost_client_facts")
    await office.pool.execute("INSERT INTO lost_client_facts SELECT * FROM lost_client_facts_source")
    assert await office.pool.fetch("SELECT * FROM lost_client_facts ORDER BY contact_id") == before


async def test_trips_paid_cancelled_moved_and_deleted(settings: Settings, office: Repository) -> None:
    pool = office.pool
    ids = await lost_office(pool)
    newcomer = await contact(pool, "Новый покупатель", "+79270000009")
    await trip(pool, "N1", newcomer, 500, "700000")  # a new buyer, lost from the start
    assert await assert_current(settings, pool) == [newcomer, ids["two"], ids["one"]]
    await pool.execute("UPDATE trips SET status = 'cancelled' WHERE order_number = 'N1'")
    assert await assert_current(settings, pool) == [ids["two"], ids["one"]]
    await pool.execute("UPDATE trips SET amount = 1000 WHERE order_number = 'T1'")  # «Два» now the smaller
    assert await assert_current(settings, pool) == [ids["one"], ids["two"]]
    await pool.execute("UPDATE trips SET contact_id = $1 WHERE order_number = 'T1'", newcomer)
    assert await assert_current(settings, pool) == [ids["one"], newcomer]
    await pool.execute("UPDATE trips SET ends_on = now()::date WHERE order_number = 'O1'")  # travelled lately
    assert await assert_current(settings, pool) == [newcomer]
    await pool.execute("DELETE FROM trips WHERE order_number = 'T1'")
    assert await assert_current(settings, pool) == []


async def test_calls_leads_and_do_not_call(settings: Settings, office: Repository) -> None:
    pool = office.pool
    ids = await lost_office(pool)
    await call(pool, "two-called", ids["two"], 3)  # called back: off the list
    assert await assert_current(settings, pool) == [ids["one"]]
    await pool.execute("UPDATE communications SET started_at = $1 WHERE entry_id = 'two-called'",
                       NOW - timedelta(days=400))  # it was long ago after all
    assert await assert_current(settings, pool) == [ids["two"], ids["one"]]
    await pool.execute("DELETE FROM communications WHERE entry_id = 'two-called'")
    lead = await pool.fetchval("INSERT INTO leads (contact_id, opened_at, last_activity_at) VALUES ($1, $2, $2)"
                               " RETURNING id", ids["one"], NOW)
    assert await assert_current(settings, pool) == [ids["two"]]
    await pool.execute("UPDATE leads SET status = 'lost', closed_at = now() WHERE id = $1", lead)
    assert await assert_current(settings, pool) == [ids["two"], ids["one"]]
    await pool.execute("UPDATE contact_identifiers SET do_not_call_since = now() WHERE contact_id = $1", ids["two"])
    assert await assert_current(settings, pool) == [ids["one"]]
    await pool.execute("UPDATE contact_identifiers SET do_not_call_since = NULL WHERE contact_id = $1", ids["two"])
    assert await assert_current(settings, pool) == [ids["two"], ids["one"]]
    in_work = await pool.fetchval("SELECT contact_id FROM leads WHERE status = 'open'")
    await pool.execute("DELETE FROM leads WHERE contact_id = $1", in_work)  # its open lead gone: lost now
    assert await assert_current(settings, pool) == [in_work, ids["two"], ids["one"]]


async def test_merge_undo_removal_and_deletion(
        settings: Settings, office: Repository, client: TestClient) -> None:
    pool = office.pool
    ids = await lost_office(pool)
    resp = await client.post("/api/contacts/merge", headers=auth(),
                             json={"survivor_id": ids["one"], "merged_ids": [ids["two"]]})
    assert resp.status == 200, await resp.text()
    merge_id = (await resp.json())["merge_id"]
    assert await assert_current(settings, pool) == [ids["one"]]  # «Два»'s trips are «Один»'s now
    resp = await client.post(f"/api/merges/{merge_id}/undo", headers=auth())
    assert resp.status == 200, await resp.text()
    assert await assert_current(settings, pool) == [ids["two"], ids["one"]]
    await pool.execute("UPDATE contacts SET removed_at = $1 WHERE id = $2", datetime.now(UTC), ids["one"])
    assert await assert_current(settings, pool) == [ids["two"]]
    await pool.execute("DELETE FROM contacts WHERE id = $1", ids["two"])  # its trips keep no contact
    assert await assert_current(settings, pool) == []
    assert await pool.fetchval("SELECT count(*) FROM lost_client_facts WHERE contact_id = $1", ids["two"]) == 0
