"""``python -m bench.funnel [--runs N] [--claims N]``: the score refresh and a campaign's ``next`` at size.

Creates a database of its own on the PostgreSQL at 127.0.0.1:5432 and loads the
read benchmark's agency (bench/reads/load.py: 108,000 contacts, their calls,
inquiries, leads and trips). Then:

1. **Score refresh**: ``refresh_all`` of every contact (one statement per batch of
   5,000), ``--runs`` times; the first run writes every contact, the later ones
   only what changed (nothing), as the nightly run does.
2. **Campaign next**: a campaign of 50,000 callable contacts (a tag segment) and 10
   managers, each asking ``next`` in a loop at once (``--claims`` each), timed per
   call from the manager's side (the daemon's function, its own pool of 12
   connections); every contact handed out must be distinct.

It drops the database at the end, even after a failure. The numbers go into
docs/BENCHMARKS.md («Funnel, scores and campaigns»).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

import asyncpg

from bench.reads.load import load
from bench.suite.machine import describe
from bench.suite.stats import percentile
from config.settings import Settings, load_settings
from daemon.contacts.score import refresh_all
from daemon.leads.campaigns import Segment, create_campaign, next_contact
from daemon.store import migrate
from daemon.store.database import create_pool

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
CAMPAIGN_CONTACTS = 50_000
MANAGERS = 10
TAG = "bench-campaign"


async def _scores(pool: asyncpg.Pool, settings: Settings, runs: int) -> None:
    seconds = []
    for n in range(runs):
        report = await refresh_all(pool, settings)
        seconds.append(report.seconds)
        print(f"score refresh run {n + 1}: {report.contacts:,} contacts, {report.changed:,} written, "
              f"{report.seconds:.1f} s")
    print(f"score refresh: median {statistics.median(seconds):.1f} s, first (writes all) {seconds[0]:.1f} s")


async def _campaign(pool: asyncpg.Pool, settings: Settings, claims: int) -> None:
    await pool.execute("TRUNCATE campaigns, campaign_contacts, contact_claims")
    await pool.execute("DELETE FROM managers WHERE extension LIKE 'b_'")
    await pool.execute(
        "INSERT INTO managers (extension, name) SELECT 'b' || n, 'Звонящий ' || n FROM generate_series(0, $1) n",
        MANAGERS - 1)
    await pool.execute(
        """UPDATE contacts SET tags = tags || $1::text WHERE id IN (
               SELECT c.id FROM contacts c
               WHERE c.merged_into IS NULL
                 AND EXISTS (SELECT 1 FROM contact_identifiers p WHERE p.contact_id = c.id AND p.kind = 'phone'
                             AND p.do_not_call_since IS NULL)
                 AND NOT EXISTS (SELECT 1 FROM leads l WHERE l.contact_id = c.id AND l.status = 'open')
               ORDER BY c.id LIMIT $2)""", TAG, CAMPAIGN_CONTACTS, timeout=600)
    started = time.perf_counter()
    created = await create_campaign(pool, settings, name="bench", segment=Segment(kind="tag", tag=TAG),
                                    extensions=[f"b{n}" for n in range(MANAGERS)], claim_days=30)
    print(f"campaign created in {time.perf_counter() - started:.1f} s: {created['contacts']:,} callable contacts")
    await pool.execute("ANALYZE campaign_contacts")
    latencies: list[float] = []
    handed: list[int] = []

    async def manager(extension: str) -> None:
        for _ in range(claims):
            start = time.perf_counter()
            card = await next_contact(pool, created["id"], extension)
            latencies.append((time.perf_counter() - start) * 1000)
            assert card is not None
            handed.append(card["contact_id"])

    started = time.perf_counter()
    await asyncio.gather(*(manager(f"b{n}") for n in range(MANAGERS)))
    wall = time.perf_counter() - started
    assert len(set(handed)) == len(handed), "a contact was handed out twice"
    print(f"next: {len(latencies):,} claims by {MANAGERS} managers at once in {wall:.1f} s "
          f"({len(latencies) / wall:,.0f}/s), all distinct; p50 {percentile(latencies, 50):.1f} ms, "
          f"p95 {percentile(latencies, 95):.1f} ms, p99 {percentile(latencies, 99):.1f} ms, "
          f"max {max(latencies):.1f} ms")


async def run(args: argparse.Namespace) -> None:
    admin = await asyncpg.connect(ADMIN_URL)
    db = args.database or f"callbridge_bench_funnel_{os.getpid()}"
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + db
    if not args.database:
        await admin.execute(f'CREATE DATABASE "{db}"')
    try:
        conn = await asyncpg.connect(url)
        try:
            if not args.database:
                await migrate.migrate(conn)
                loaded = await load(conn, scale=1.0)
                await conn.execute("VACUUM ANALYZE")
                print(f"loaded in {loaded.seconds:.0f} s: {loaded.contacts:,} contacts, {loaded.communications:,} "
                      f"communications, {loaded.leads:,} leads, {loaded.trips:,} trips")
            print("machine: " + ", ".join(f"{k} {v}" for k, v in (await describe(conn)).items()))
        finally:
            await conn.close()
        # The daemon's own pool, with a user's settings (db_jit off, 5 s statement timeout) and 12 connections.
        settings = load_settings({"CALLBRIDGE_DATABASE_URL": url, "CALLBRIDGE_DB_POOL_MAX": "12"})
        pool = await create_pool(settings, url)
        try:
            await _scores(pool, settings, args.runs)
            await _campaign(pool, settings, args.claims)
        finally:
            await pool.close()
    finally:
        if args.keep or args.database:
            print(f"kept database {db}")
        else:
            await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.funnel", description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="score refreshes of every contact (default 3)")
    parser.add_argument("--claims", type=int, default=300, help="next calls per manager (default 300)")
    parser.add_argument("--keep", action="store_true", help="keep the database (its name is printed)")
    parser.add_argument("--database", help="a database kept by an earlier --keep run: no load (its campaign "
                                           "data is made again), no drop")
    asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
