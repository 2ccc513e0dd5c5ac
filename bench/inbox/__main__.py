"""``python -m bench.inbox [--open N] [--closed N] [--runs N]``: the inbox's read and sweep with many open items.

Creates a database of its own on the PostgreSQL at 127.0.0.1:5432 and writes, in
one statement each, 2,000 contacts and ``--closed`` answered then ``--open``
unanswered inquiries over seven days: migration 0021's trigger makes their items
as the rows go in (the insert's time with and without the trigger is printed).
The items are given due times and managers (10 extensions), the daemon's own
aiohttp application starts in this process, and ``GET /api/inbox`` is asked
``--runs`` times per variant over HTTP (p50, p95). Then one sweep pass (the
task every daemon runs each second) is timed with everything already done, as
it runs most of the time. Drops the database at the end, even after a failure.
The numbers go into docs/BENCHMARKS.md («The inbox»).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from datetime import UTC, datetime

import asyncpg
from aiohttp.test_utils import TestClient, TestServer

from bench.suite.machine import describe
from config.settings import load_settings
from daemon.inbox import store
from daemon.inbox.keys import INBOX_SWEEP
from daemon.runtime.app import build_app
from daemon.runtime.keys import REPOSITORY
from daemon.runtime.logs import configure_logging
from daemon.store import migrate

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TOKEN = "bench-inbox-token"
CONTACTS = 2000
EXTENSIONS = 10

CONTACTS_SQL = """
INSERT INTO contacts (name) SELECT 'Турист ' || n FROM generate_series(1, $1) AS n
"""
# Every inquiry a web form of one of the contacts, spread over seven days.
INQUIRIES_SQL = """
INSERT INTO communications (entry_id, channel, direction, status, contact_id, started_at, source, text)
SELECT 'inq:bench:' || n, 'web_form', 'inbound', 'received', 1 + n % $3::int,
       now() - make_interval(secs => (n * 604800.0 / ($1::int + $2::int))::float8), 'site',
       'Хотим в Турцию в июле, двое взрослых и ребёнок, бюджет ' || n || ' руб.'
FROM generate_series(1, $1::int + $2::int) AS n
"""
# The outbox's part: the first $1 are answered five minutes after they came (their items close).
REPLIES_SQL = """
UPDATE communications SET replied_at = started_at + interval '5 min'
WHERE entry_id LIKE 'inq:bench:%' AND split_part(entry_id, ':', 3)::int <= $1::int
"""
ASSIGN_SQL = """
UPDATE inbox_items SET assigned_extension = (100 + id % $1)::text, assign_reason = 'balanced', assigned_at = now(),
                       due_at = received_at + interval '15 min', overdue_at = received_at + interval '15 min',
                       escalated_at = received_at + interval '45 min'
WHERE state = 'open'
"""


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round((len(ordered) - 1) * fraction))]


async def load(url: str, args: argparse.Namespace) -> None:
    conn = await asyncpg.connect(url)
    try:
        await migrate.migrate(conn)
        await conn.execute(CONTACTS_SQL, CONTACTS)
        started = time.perf_counter()
        await conn.execute(INQUIRIES_SQL, args.open, args.closed, CONTACTS)
        with_trigger = time.perf_counter() - started
        await conn.execute(REPLIES_SQL, args.closed)
        await conn.execute(ASSIGN_SQL, EXTENSIONS)
        # As autovacuum leaves the table between bursts: the index of open items holds no dead rows.
        await conn.execute("VACUUM ANALYZE inbox_items")
        counts = await conn.fetchrow("SELECT count(*) FILTER (WHERE state = 'open') AS open,"
                                     " count(*) FILTER (WHERE state = 'closed') AS closed FROM inbox_items")
        # The same insert without the inbox's trigger, for its cost per row.
        await conn.execute("ALTER TABLE communications DISABLE TRIGGER communications_inbox_insert")
        await conn.execute("UPDATE communications SET entry_id = entry_id || ':a'")
        started = time.perf_counter()
        await conn.execute(INQUIRIES_SQL, args.open, args.closed, CONTACTS)
        without = time.perf_counter() - started
        await conn.execute("DELETE FROM communications WHERE entry_id NOT LIKE '%:a'")
        await conn.execute("ALTER TABLE communications ENABLE TRIGGER communications_inbox_insert")
        await conn.execute("VACUUM ANALYZE")
        rows = args.open + args.closed
        print(f"items: {counts['open']:,} open, {counts['closed']:,} closed; inserting {rows:,} inquiries took "
              f"{with_trigger:.2f} s with the inbox's trigger, {without:.2f} s without "
              f"({(with_trigger - without) / rows * 1e6:.0f} µs a row)")
        print("machine: " + ", ".join(f"{k} {v}" for k, v in (await describe(conn)).items()))
    finally:
        await conn.close()


async def measure(client: TestClient, runs: int) -> None:
    print(f"\n| GET ({runs} runs) | p50 ms | p95 ms | items | body |\n|---|---:|---:|---:|---:|")
    for title, params in (("/api/inbox", {}), ("/api/inbox?extension=105", {"extension": "105"}),
                          ("/api/inbox?limit=1000", {"limit": "1000"})):
        times, size, shown = [], 0, 0
        for _ in range(runs):
            start = time.perf_counter()
            resp = await client.get("/api/inbox", params=params, headers={"Authorization": f"Bearer {TOKEN}"})
            body = await resp.json()
            times.append((time.perf_counter() - start) * 1000)
            assert resp.status == 200, body
            size, shown = resp.content_length or 0, len(body["items"])
        print(f"| {title} (total {body['total']:,}) | {statistics.median(times):.1f} | "
              f"{percentile(times, 0.95):.1f} | {shown} | {size / 1024:.0f} KB |")
    # The same reads without HTTP: the two queries and the items' shaping (daemon/inbox/store.py).
    pool = client.app[REPOSITORY].pool
    for title, extension in (("list_items (all)", None), ("list_items (extension 105)", "105")):
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            await store.list_items(pool, now=datetime.now(UTC), extension=extension)
            times.append((time.perf_counter() - start) * 1000)
        print(f"| {title}, no HTTP | {statistics.median(times):.1f} | {percentile(times, 0.95):.1f} | 100 | |")
    sweep = client.app[INBOX_SWEEP]
    passes = []
    for _ in range(runs):
        start = time.perf_counter()
        await sweep.sweep_once()
        passes.append((time.perf_counter() - start) * 1000)
    print(f"| one sweep pass (nothing due) | {statistics.median(passes):.1f} | {percentile(passes, 0.95):.1f} | | |")


async def run(args: argparse.Namespace) -> None:
    admin = await asyncpg.connect(ADMIN_URL)
    db = f"callbridge_bench_inbox_{os.getpid()}"
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + db
    await admin.execute(f'CREATE DATABASE "{db}"')
    try:
        await load(url, args)
        settings = load_settings({"CALLBRIDGE_DATABASE_URL": url, "CALLBRIDGE_API_TOKEN": TOKEN,
                                  "CALLBRIDGE_MANGO_API_KEY": "bench", "CALLBRIDGE_MANGO_API_SALT": "bench",
                                  "CALLBRIDGE_MANGO_API_URL": "http://127.0.0.1:9/vpbx/",
                                  "CALLBRIDGE_LOG_LEVEL": "warning", "CALLBRIDGE_SPOOL_ENABLED": "false",
                                  "CALLBRIDGE_STATE_DIR": f"/tmp/{db}"})
        configure_logging(level="warning", fmt="json")
        app = build_app(settings, database_url=url, apply_migrations=False)
        async with TestClient(TestServer(app)) as client:
            await measure(client, args.runs)
    finally:
        if args.keep:
            print(f"kept database {db}")
        else:
            await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.inbox", description=__doc__)
    parser.add_argument("--open", type=int, default=10_000, help="unanswered inquiries (default 10,000)")
    parser.add_argument("--closed", type=int, default=40_000, help="answered inquiries (default 40,000)")
    parser.add_argument("--runs", type=int, default=200, help="requests per variant (default 200)")
    parser.add_argument("--keep", action="store_true", help="keep the database (its name is printed)")
    asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
