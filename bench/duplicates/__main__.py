"""``python -m bench.duplicates [--contacts N]``: duplicate candidates and merges at scale.

Creates a database of its own on the PostgreSQL at 127.0.0.1:5432, loads the
suite's contact base (bench/suite/contacts.py: Russian names, so the names
repeat a lot) with triggers off, adds a crowd of one common name («Иванова
Елена», unrelated phones, one manager) and duplicates of the kinds the agencies
have (the same person typed again with ё/е, another case, another word order, a
phone one digit off) and pipeline hints through the triggers, and prints:

* how long the kept candidates (contact_duplicate_candidates) take to build for
  the whole base at once (what the contact import does at its end), and what
  one write costs with the triggers on (a new contact with a phone, a rename);
* the read through a real daemon (``GET /api/contacts/duplicates``: the first
  page, a deep page, by reason, one contact's), p50/p95 over --reads requests;
* the plans (EXPLAIN ANALYZE) of the page, the count, the one-contact
  similar-name search and one contact's recompute (what a trigger runs);
* merge and undo latencies through daemon.contacts (each in its own transaction).

It drops the database at the end, even after a failure. Paste the output into
docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import asyncpg

from bench.suite.__main__ import KEYS
from bench.suite.contacts import load_base
from bench.suite.daemon import API_TOKEN, Daemon
from bench.suite.machine import describe
from bench.suite.stats import percentile
from daemon.contacts.duplicates import SIMILAR_PHONE_DIGITS, SIMILARITY_THRESHOLD
from daemon.contacts.merge import merge_contacts
from daemon.contacts.undo import undo_merge
from daemon.runtime.logs import configure_logging
from daemon.store import migrate
from daemon.store.queries import q
from daemon.store.repository import Tx

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SPELLINGS = (str.upper, lambda n: " ".join(reversed(n.split())), lambda n: n.replace("е", "ё"), str.lower)
COMMON_NAME = "Иванова Елена"


def _typo(phone: str, rng: random.Random) -> str:
    i = rng.randrange(5, len(phone))
    return phone[:i] + str((int(phone[i]) + 1) % 10) + phone[i + 1:]


async def add_common_name(conn: asyncpg.Connection, *, count: int, seed: int = 11) -> None:
    """``count`` «Иванова Елена» of one manager with unrelated phones (+7 97x: not in the base's codes)."""
    rng = random.Random(seed)
    ids = [r["id"] for r in await conn.fetch(
        "INSERT INTO contacts (name, responsible_id) SELECT $1, 1 FROM generate_series(1, $2) RETURNING id",
        COMMON_NAME, count)]
    phones = rng.sample(range(10**8), count)
    await conn.execute("INSERT INTO contact_identifiers (kind, value, contact_id)"
                       " SELECT 'phone', '+797' || lpad(p::text, 8, '0'), c"
                       " FROM unnest($1::int[], $2::bigint[]) AS u (p, c)", phones, ids)


async def add_duplicates(conn: asyncpg.Connection, *, count: int, base: int, seed: int = 7) -> list[tuple[int, int]]:
    """``count`` re-typed copies of random contacts, one by one as the screen or pipeline
    would write them (triggers on); returns (original, copy) pairs."""
    rng = random.Random(seed)
    originals = rng.sample(range(1, base + 1), count)
    rows = await conn.fetch("SELECT id, name, responsible_id FROM contacts WHERE id = ANY($1::bigint[])", originals)
    pairs = []
    for n, row in enumerate(rows):
        name = SPELLINGS[n % len(SPELLINGS)](row["name"])
        phone = await conn.fetchval("SELECT value FROM contact_identifiers WHERE contact_id = $1 LIMIT 1", row["id"])
        async with conn.transaction():
            copy = await conn.fetchval("INSERT INTO contacts (name, responsible_id) VALUES ($1, $2) RETURNING id",
                                       name, row["responsible_id"] if n % 2 else None)
            await conn.execute("INSERT INTO contact_identifiers (kind, value, contact_id) VALUES ('phone', $1, $2)"
                               " ON CONFLICT DO NOTHING", _typo(phone, rng), copy)
        pairs.append((row["id"], copy))
    for a, b in rng.sample(pairs, count // 5):
        await conn.execute("INSERT INTO contact_duplicate_hints (contact_low, contact_high) VALUES ($1, $2)"
                           " ON CONFLICT DO NOTHING", min(a, b), max(a, b))
    await conn.execute("ANALYZE contacts")
    await conn.execute("ANALYZE contact_identifiers")
    await conn.execute("ANALYZE contact_duplicate_candidates")
    return pairs


def _ms(values: list[float]) -> str:
    return (f"p50 {statistics.median(values) * 1000:.1f} ms, p95 {percentile(values, 95) * 1000:.1f} ms "
            f"({len(values)} runs)")


async def writes(conn: asyncpg.Connection, *, runs: int, seed: int = 13) -> None:
    """One write's cost with the triggers on, and off (session_replication_role = replica):
    a new named contact with a phone (as the pipeline makes an inquiry's), and a rename
    into the common name."""
    rng = random.Random(seed)
    for label, role in (("triggers on", "DEFAULT"), ("triggers off", "replica")):
        await conn.execute(f"SET session_replication_role = {role}")
        created, renamed = [], []
        for n in range(runs):
            start = time.perf_counter()
            async with conn.transaction():
                cid = await conn.fetchval("INSERT INTO contacts (name) VALUES ($1) RETURNING id",
                                          f"Петрова Мария {label} {n}")
                await conn.execute("INSERT INTO contact_identifiers (kind, value, contact_id)"
                                   " VALUES ('phone', $1, $2)", f"+7978{rng.randrange(10**7):07d}", cid)
            created.append(time.perf_counter() - start)
            start = time.perf_counter()
            await conn.execute("UPDATE contacts SET name = $2 WHERE id = $1", cid, COMMON_NAME)
            renamed.append(time.perf_counter() - start)
        print(f"new contact + phone (one transaction, {label}): {_ms(created)}")
        print(f"rename into «{COMMON_NAME}» ({label}): {_ms(renamed)}")
    await conn.execute("SET session_replication_role = DEFAULT")


async def rebuild(conn: asyncpg.Connection) -> None:
    start = time.perf_counter()
    async with conn.transaction():
        await conn.execute(q("candidates_queue_all"))
        queued = await conn.fetchval(q("candidates_flush"))
    took = time.perf_counter() - start
    kinds = {r["reason"]: r["n"] for r in await conn.fetch(
        "SELECT reason, count(*) AS n FROM contact_duplicate_candidates GROUP BY reason")}
    print(f"candidates of the whole base at once ({queued:,} contacts): {took:.1f} s; kept: {kinds}")
    await conn.execute("VACUUM ANALYZE contact_duplicate_candidates")


async def reads(url: str, pairs: list[tuple[int, int]], *, runs: int) -> None:
    """The read through a real daemon, one keep-alive connection, sequential requests."""
    with tempfile.TemporaryDirectory() as state:
        daemon = Daemon(database_url=url, state_dir=Path(state), keys=KEYS)
        await daemon.start()
        try:
            headers = {"Authorization": f"Bearer {API_TOKEN}"}
            async with aiohttp.ClientSession(headers=headers) as session:
                for title, query in (("first page (limit 100)", "limit=100"),
                                     ("page at offset 1,000", "limit=100&offset=1000"),
                                     ("reason=name", "limit=100&reason=name"),
                                     ("reason=identifier", "limit=100&reason=identifier"),
                                     ("one contact's (similar names)", f"contact_id={pairs[0][1]}")):
                    took = await _timed_get(session, f"http://{daemon.host}/api/contacts/duplicates?{query}", runs)
                    print(f"GET /api/contacts/duplicates {title}: {_ms(took)}")
        finally:
            await daemon.stop()


async def _timed_get(session: aiohttp.ClientSession, url: str, runs: int) -> list[float]:
    took = []
    for n in range(runs + 3):
        start = time.perf_counter()
        async with session.get(url) as resp:
            body = await resp.read()
            if resp.status != 200:
                raise RuntimeError(f"{url}: {resp.status} {body[:200]!r}")
        if n >= 3:  # three warm-ups
            took.append(time.perf_counter() - start)
    return took


async def explain(conn: asyncpg.Connection, title: str, sql: str, *args: object) -> str:
    rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, *args)
    plan = "\n".join(r[0] for r in rows)
    print(f"\n### {title}\n```\n{plan}\n```")
    return plan


async def plans(conn: asyncpg.Connection, pairs: list[tuple[int, int]]) -> None:
    shown = [f"{k}={await conn.fetchval('SELECT current_setting($1)', k)}"
             for k in ("lc_collate", "lc_ctype", "server_version", "jit")]
    print("\n## Settings: " + ", ".join(shown))
    await explain(conn, "a page of candidates", q("candidates_page"), 100, 1000)
    await explain(conn, "a page of one reason", q("candidates_page_of_reason"), 100, 0, "name")
    await explain(conn, "the total", q("candidates_total"))
    copy = pairs[0][1]
    await explain(conn, "similar names of one contact (similar phones first, then pg_trgm similarity)",
                  q("similar_names_of_contact"), copy, SIMILAR_PHONE_DIGITS, 100, SIMILARITY_THRESHOLD)
    await explain(conn, "one contact's candidates recomputed (what a trigger runs)",
                  "SELECT contact_candidates_refresh(ARRAY[$1::bigint])", copy)
    found = {tuple(r["contact_ids"]) for r in await conn.fetch(
        "SELECT ARRAY[contact_low, contact_high] AS contact_ids FROM contact_duplicate_candidates")}
    recall = sum((min(a, b), max(a, b)) in found for a, b in pairs) / len(pairs)
    print(f"planted re-typed copies among the candidates: {recall:.1%} (the rest: a second phone typed, "
          f"or a hint of another pair)")
    crowd = await conn.fetchval(
        "SELECT count(*) FROM contact_duplicate_candidates d JOIN contacts a ON a.id = d.contact_low"
        " JOIN contacts b ON b.id = d.contact_high WHERE a.name_key = contact_name_key($1)"
        " AND b.name_key = contact_name_key($1)", COMMON_NAME)
    print(f"pairs among the «{COMMON_NAME}» crowd: {crowd}")


async def merges(conn: asyncpg.Connection, pairs: list[tuple[int, int]], count: int) -> None:
    tx = Tx(conn)
    merge_s, undo_s, ids = [], [], []
    for original, copy in pairs[:count]:
        start = time.perf_counter()
        async with conn.transaction():
            result = await merge_contacts(tx, survivor_id=original, merged_ids=[copy], actor="bench", reason="")
        merge_s.append(time.perf_counter() - start)
        ids.append(result.merge_id)
    for merge_id in ids:
        start = time.perf_counter()
        async with conn.transaction():
            await undo_merge(tx, merge_id=merge_id, actor="bench")
        undo_s.append(time.perf_counter() - start)
    for name, values in (("merge", merge_s), ("undo", undo_s)):
        values.sort()
        print(f"{name}: {len(values)} one by one, median {statistics.median(values) * 1000:.1f} ms, "
              f"p99 {values[int(len(values) * 0.99) - 1] * 1000:.1f} ms")


async def _step(title: str, job: Callable[[], Awaitable[object]]) -> None:
    start = time.perf_counter()
    await job()
    print(f"[{title}: {time.perf_counter() - start:.0f} s]")


async def run(args: argparse.Namespace) -> None:
    admin = await asyncpg.connect(ADMIN_URL)
    db = f"callbridge_bench_dups_{os.getpid()}"
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + db
    await admin.execute(f'CREATE DATABASE "{db}"')
    try:
        conn = await asyncpg.connect(url)
        try:
            for key, value in (await describe(conn)).items():
                print(f"{key}: {value}")
            await migrate.migrate(conn)
            base = await load_base(conn, contacts=args.contacts)
            print(f"base: {base.contacts:,} contacts, {base.phones:,} phones, loaded in {base.seconds:.0f} s "
                  f"(COPY, triggers off)")
            await rebuild(conn)
            await _step("common name", lambda: add_common_name(conn, count=args.common))
            pairs: list[tuple[int, int]] = []

            async def plant() -> None:
                pairs.extend(await add_duplicates(conn, count=args.duplicates, base=args.contacts))

            await _step(f"{args.duplicates:,} copies planted one by one, triggers on", plant)
            await writes(conn, runs=args.reads)
            await rebuild(conn)
            await reads(url, pairs, runs=args.reads)
            await plans(conn, pairs)
            await merges(conn, pairs, args.merges)
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.duplicates", description=__doc__)
    p.add_argument("--contacts", type=int, default=1_000_000)
    p.add_argument("--duplicates", type=int, default=2_000, help="re-typed copies planted in the base")
    p.add_argument("--common", type=int, default=5_000, help=f"contacts named «{COMMON_NAME}»")
    p.add_argument("--reads", type=int, default=50, help="requests per read (and writes) timed")
    p.add_argument("--merges", type=int, default=500, help="merges (then undos) to time")
    configure_logging(level="warning", fmt="json")
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
