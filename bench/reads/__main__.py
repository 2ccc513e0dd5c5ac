"""``python -m bench.reads [--million] [--runs N]``: the reads a person opens, at an agency's size.

Creates a database of its own on the PostgreSQL at 127.0.0.1:5432, loads the
data set of bench/reads/load.py (108,000 contacts; ``--million`` for ten times
it), starts the daemon's own aiohttp application in this process (its settings
as a user's: pool, ``db_jit`` and all) and asks each read ``--runs`` times over
HTTP, printing p50 and p95 per read. It drops the database at the end, even
after a failure. The numbers go into docs/BENCHMARKS.md («Reads»).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg
from aiohttp.test_utils import TestClient, TestServer

from bench.reads.load import DAYS, INBOUND, INQUIRIES, OUTBOUND, load
from bench.suite.contacts import phone_e164
from bench.suite.machine import describe
from config.settings import load_settings
from daemon.runtime.app import build_app
from daemon.runtime.logs import configure_logging
from daemon.store import migrate

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TOKEN = "bench-reads-token"
PER_90_DAYS = INBOUND + OUTBOUND + INQUIRIES  # the communications of scale 1's 90 days


def reads(days: int) -> list[tuple[str, str, dict[str, str]]]:
    window = {"since": f"-{days}d"}  # days back from now, made times in measure()
    analytics = [(f"analytics by={by}", "/api/analytics", {**window, "by": by})
                 for by in ("ad_source", "channel", "line", "manager", "day")]
    return [*analytics,
            ("duplicates", "/api/contacts/duplicates", {}),
            ("missed report (default window)", "/api/reports/missed", {}),
            ("missed report (30 days)", "/api/reports/missed", {"since": "-30d"}),
            ("lost clients json", "/api/reports/lost-clients", {"format": "json"}),
            ("lost clients xlsx", "/api/reports/lost-clients", {"format": "xlsx"}),
            ("contact lookup", "/api/contacts/lookup", {"phone": phone_e164(12345)})]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round((len(ordered) - 1) * fraction))]


async def measure(client: TestClient, runs: int, days: int, say: Callable[[str], None], only: str = "") -> None:
    until = time.time()
    say(f"\n| read ({runs} runs) | p50 ms | p95 ms | body |\n|---|---:|---:|---:|")
    for title, path, params in reads(days):
        if only and not title.startswith(only):
            continue
        if "since" in params:  # "-30d": that many days back from now
            back = int(params["since"].strip("-d"))
            params = {**params, "since": _iso(until - back * 86400), "until": _iso(until)}
        times, size = [], 0
        for _ in range(runs):
            start = time.perf_counter()
            resp = await client.get(path, params=params, headers={"Authorization": f"Bearer {TOKEN}"})
            body = await resp.read()
            times.append((time.perf_counter() - start) * 1000)
            if resp.status != 200:
                say(f"| {title} | HTTP {resp.status}: {body[:200]!r} | | |")
                break
            size = len(body)
        else:
            say(f"| {title} | {statistics.median(times):,.0f} | {percentile(times, 0.95):,.0f} | "
                f"{size / 1024:,.0f} KB |")


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


async def _load(url: str, args: argparse.Namespace) -> None:
    conn = await asyncpg.connect(url)
    try:
        await migrate.migrate(conn)
        scale = 10.0 if args.million else 1.0
        calls_scale = None if args.per_year is None else args.per_year * DAYS / 365 / PER_90_DAYS
        loaded = await load(conn, scale=scale, calls_scale=calls_scale)
    finally:
        await conn.close()
    print(f"\nloaded in {loaded.seconds:.0f} s: {loaded.contacts:,} contacts, {loaded.identifiers:,} "
          f"identifiers, {loaded.communications:,} communications over {DAYS} days, {loaded.leads:,} leads, "
          f"{loaded.trips:,} trips")


async def run(args: argparse.Namespace) -> None:
    admin = await asyncpg.connect(ADMIN_URL)
    db = args.database or f"callbridge_bench_reads_{os.getpid()}"
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + db
    if not args.database:
        await admin.execute(f'CREATE DATABASE "{db}"')
    try:
        if not args.database:
            await _load(url, args)
        conn = await asyncpg.connect(url)
        try:
            print("machine: " + ", ".join(f"{k} {v}" for k, v in (await describe(conn)).items()))
        finally:
            await conn.close()
        settings = load_settings({"CALLBRIDGE_DATABASE_URL": url, "CALLBRIDGE_API_TOKEN": TOKEN,
                                  "CALLBRIDGE_MANGO_API_KEY": "bench", "CALLBRIDGE_MANGO_API_SALT": "bench",
                                  "CALLBRIDGE_MANGO_API_URL": "http://127.0.0.1:9/vpbx/",
                                  "CALLBRIDGE_LOG_LEVEL": "warning", "CALLBRIDGE_SPOOL_ENABLED": "false",
                                  "CALLBRIDGE_DB_COMMAND_TIMEOUT_S": "60",
                                  "CALLBRIDGE_STATE_DIR": f"/tmp/{db}"})
        configure_logging(level="warning", fmt="json")
        app = build_app(settings, database_url=url, apply_migrations=False)
        async with TestClient(TestServer(app)) as client:
            await measure(client, args.runs, DAYS, print, args.only)
    finally:
        if not (args.keep or args.database):
            await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        else:
            print(f"kept database {db}")
        await admin.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.reads", description=__doc__)
    parser.add_argument("--million", action="store_true", help="ten times the data set: 1,080,000 contacts")
    parser.add_argument("--per-year", type=int, default=None,
                        help="communications a year (the 90 days' share of it; default 162,000 times the "
                             "contacts' scale); --million --per-year 350000 is the issue's agency at ten times")
    parser.add_argument("--runs", type=int, default=30, help="requests per read (default 30)")
    parser.add_argument("--database", help="measure a database kept by an earlier --keep run (no load, no drop)")
    parser.add_argument("--only", default="", help="only the reads whose title starts so (e.g. analytics)")
    parser.add_argument("--keep", action="store_true", help="keep the database (its name is printed)")
    asyncio.run(run(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
