"""A base grown by webhooks alone keeps its planner statistics, and its duplicate probe a plan
that does not depend on them.

Autovacuum may be off on the agency's server (it is on the one these tests use) or not come by
for a while: the daemon analyzes the tables that changed past autovacuum's own threshold
(daemon/store/statistics.py, ``analyze_stale``), and the duplicate probe of a new contact starts
from that contact whatever the planner believes (migration 0030). Counted by PostgreSQL itself:
``analyze_count`` (manual ANALYZEs only) and the buffers a probe reads.
"""

from __future__ import annotations

import asyncio
import json

import asyncpg

from daemon.store.statistics import analyze_stale

CONTACTS = 2_000


async def grow_base(pool: asyncpg.Pool, count: int = CONTACTS) -> list[int]:
    """``count`` contacts of a few names with random-looking phones, as webhooks leave them:
    never analyzed. Their candidates are queued, not computed (this setup's cost only)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL callbridge.candidates_deferred = on")
        ids = [r["id"] for r in await conn.fetch(
            "INSERT INTO contacts (name, created_by_entry_id)"
            " SELECT (ARRAY['Анна Попова', 'Сергей Иванов', 'Ольга Смирнова'])[1 + n % 3], 'test:' || n"
            " FROM generate_series(1, $1) AS n RETURNING id", count)]
        await conn.execute(
            "INSERT INTO contact_identifiers (kind, value, contact_id)"
            " SELECT 'phone', '+79' || lpad(((id * 7919) % 1000000000)::text, 9, '0'), id FROM unnest($1::bigint[]) AS id",
            ids)
        await conn.execute("DELETE FROM contact_candidates_dirty")
        await conn.execute("SELECT pg_stat_force_next_flush()")
    return ids


async def analyze_counts(pool: asyncpg.Pool, tables: tuple[str, ...]) -> dict[str, int]:
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        rows = await conn.fetch("SELECT relname, analyze_count FROM pg_stat_user_tables WHERE relname = ANY($1)",
                                list(tables))
    return {r["relname"]: r["analyze_count"] for r in rows}


async def test_the_tables_webhooks_grew_are_analyzed_and_untouched_ones_are_not(pool: asyncpg.Pool) -> None:
    await grow_base(pool)
    before = await analyze_counts(pool, ("contacts", "contact_identifiers", "trips"))

    analyzed = await analyze_stale(pool, grace_s=0)

    assert {"contacts", "contact_identifiers"} <= set(analyzed)
    assert "trips" not in analyzed  # nothing changed there
    after = await analyze_counts(pool, ("contacts", "contact_identifiers", "trips"))
    assert after["contacts"] == before["contacts"] + 1
    assert after["contact_identifiers"] == before["contact_identifiers"] + 1
    assert after["trips"] == before["trips"]
    # Analyzed, the same tables are not stale any more: the next round does nothing.
    assert await analyze_stale(pool, grace_s=0) == []


async def test_one_daemon_analyzes_at_a_time(pool: asyncpg.Pool, db_url: str) -> None:
    await grow_base(pool)
    other = await asyncpg.connect(db_url)  # another daemon, in the middle of its round
    try:
        assert await other.fetchval("SELECT pg_try_advisory_lock(hashtextextended('callbridge:statistics', 0))")
        assert await analyze_stale(pool, grace_s=0) == []
        await other.execute("SELECT pg_advisory_unlock_all()")
        assert "contacts" in await analyze_stale(pool, grace_s=0)
    finally:
        await other.close()


async def test_a_new_contacts_duplicate_probe_reads_a_few_pages_without_statistics(pool: asyncpg.Pool) -> None:
    """Before migration 0030 the planner, taking every contact for one in a thousand, walked all
    contacts twice over to probe the hints of each pair: 8.4 million buffers for one new contact
    at 1,700 contacts, seconds while every other webhook waited on its locks."""
    ids = await grow_base(pool)
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO contact_duplicate_hints (contact_low, contact_high, evidence)"
                           " VALUES ($1, $2, '{}')", ids[0], ids[-1])
        [plan] = json.loads(await conn.fetchval(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) SELECT * FROM contact_candidate_pairs(ARRAY[$1::bigint])",
            ids[-1]))
        found = await conn.fetch("SELECT low, high, reason FROM contact_candidate_pairs(ARRAY[$1::bigint])", ids[-1])
    top = plan["Plan"]
    pages = top["Shared Hit Blocks"] + top["Shared Read Blocks"]
    assert pages < 500, f"{pages} buffers for one contact's probe"
    assert [(r["low"], r["high"], r["reason"]) for r in found] == [(ids[0], ids[-1], "identifier")]


async def test_the_statistics_task_runs_under_the_daemon(pool: asyncpg.Pool) -> None:
    """The round the daemon's ``statistics`` task runs (daemon/runtime/app.py) is ``analyze_stale``:
    two of them at once, as two daemons' tasks, analyze each table once."""
    await grow_base(pool)
    before = await analyze_counts(pool, ("contacts",))
    rounds = await asyncio.gather(analyze_stale(pool, grace_s=0), analyze_stale(pool, grace_s=0))
    assert sum("contacts" in r for r in rounds) == 1
    assert (await analyze_counts(pool, ("contacts",)))["contacts"] == before["contacts"] + 1


async def vacuum_count(pool: asyncpg.Pool, table: str) -> int:
    async with pool.acquire() as conn:
        await conn.execute("SELECT pg_stat_clear_snapshot()")
        return await conn.fetchval("SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = $1", table)


async def test_the_work_queues_are_vacuumed_where_nobody_else_does(pool: asyncpg.Pool) -> None:
    """settle_pending and contact_score_dirty are noted and emptied all day: unvacuumed, they only
    grow, and every take of the next rows reads past all the dead ones."""
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO settle_pending (what, id) SELECT 'facts', n FROM generate_series(1, 2000) n")
        await conn.execute("DELETE FROM settle_pending")
        await conn.execute("SELECT pg_stat_force_next_flush()")
    queue, other = await vacuum_count(pool, "settle_pending"), await vacuum_count(pool, "contact_score_dirty")

    await analyze_stale(pool, grace_s=0)

    assert await vacuum_count(pool, "settle_pending") == queue + 1
    assert await vacuum_count(pool, "contact_score_dirty") == other  # nothing dead there
    # Vacuumed, the queue has no dead rows left: the next round leaves it be.
    await analyze_stale(pool, grace_s=0)
    assert await vacuum_count(pool, "settle_pending") == queue + 1
