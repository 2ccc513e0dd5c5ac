"""``python -m bench.duplicates [--contacts N]``: duplicate search and merges at scale.

Creates a database of its own on the PostgreSQL at 127.0.0.1:5432, loads the
suite's contact base (bench/suite/contacts.py: Russian names, so the names
repeat a lot), adds duplicates of the kinds the agencies have (the same person
typed again with ё/е, another case, another word order, a phone one digit off,
the same manager) and pipeline hints, and prints:

* the plans (EXPLAIN ANALYZE) of the one-contact similar-name search (pg_trgm
  GIN index, Cyrillic, under the database's collation) and of the whole-base
  name and identifier candidate queries, with their times;
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
import time

import asyncpg

from bench.suite.contacts import load_base
from daemon import migrate
from daemon.contacts.duplicates import (
    NAME_QUERY_WORK_MEM,
    SIMILAR_PHONE_DIGITS,
    SIMILARITY_THRESHOLD,
)
from daemon.contacts.merge import merge_contacts
from daemon.contacts.undo import undo_merge
from daemon.logs import configure_logging
from daemon.queries import q
from daemon.repository import Tx

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SPELLINGS = (str.upper, lambda n: " ".join(reversed(n.split())), lambda n: n.replace("е", "ё"), str.lower)


def _typo(phone: str, rng: random.Random) -> str:
    i = rng.randrange(5, len(phone))
    return phone[:i] + str((int(phone[i]) + 1) % 10) + phone[i + 1:]


async def add_duplicates(conn: asyncpg.Connection, *, count: int, base: int, seed: int = 7) -> list[tuple[int, int]]:
    """``count`` re-typed copies of random contacts; returns (original, copy) pairs."""
    rng = random.Random(seed)
    originals = rng.sample(range(1, base + 1), count)
    rows = await conn.fetch("SELECT id, name, responsible_id FROM contacts WHERE id = ANY($1::bigint[])", originals)
    pairs = []
    for n, row in enumerate(rows):
        name = SPELLINGS[n % len(SPELLINGS)](row["name"])
        copy = await conn.fetchval("INSERT INTO contacts (name, responsible_id) VALUES ($1, $2) RETURNING id",
                                   name, row["responsible_id"] if n % 2 else None)
        phone = await conn.fetchval("SELECT value FROM contact_identifiers WHERE contact_id = $1 LIMIT 1", row["id"])
        await conn.execute("INSERT INTO contact_identifiers (kind, value, contact_id) VALUES ('phone', $1, $2)"
                           " ON CONFLICT DO NOTHING", _typo(phone, rng), copy)
        pairs.append((row["id"], copy))
    hints = [(min(a, b), max(a, b)) for a, b in rng.sample(pairs, count // 5)]
    await conn.executemany("INSERT INTO contact_duplicate_hints (contact_low, contact_high) VALUES ($1, $2)"
                           " ON CONFLICT DO NOTHING", hints)
    await conn.execute("ANALYZE contacts")
    await conn.execute("ANALYZE contact_identifiers")
    return pairs


async def explain(conn: asyncpg.Connection, title: str, sql: str, *args: object) -> str:
    rows = await conn.fetch("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, *args)
    plan = "\n".join(r[0] for r in rows)
    print(f"\n### {title}\n```\n{plan}\n```")
    return plan


async def timed(conn: asyncpg.Connection, sql: str, *args: object, repeats: int = 3) -> tuple[float, int]:
    best, n = float("inf"), 0
    for _ in range(repeats):
        start = time.perf_counter()
        n = len(await conn.fetch(sql, *args))
        best = min(best, time.perf_counter() - start)
    return best, n


async def plans(conn: asyncpg.Connection, pairs: list[tuple[int, int]]) -> None:
    shown = [f"{k}={await conn.fetchval('SELECT current_setting($1)', k)}"
             for k in ("lc_collate", "lc_ctype", "server_version")]
    print("\n## Settings: " + ", ".join(shown))
    copy = pairs[0][1]
    key = await conn.fetchval("SELECT name_key FROM contacts WHERE id = $1", copy)
    print(f"one contact: #{copy}, name_key {key!r}")
    async with conn.transaction():
        await conn.execute(q("set_similarity_threshold"), str(SIMILARITY_THRESHOLD))
        plan = await explain(conn, "similar names of one contact (pg_trgm %)", q("similar_names_of_contact"),
                             copy, SIMILAR_PHONE_DIGITS, 100)
        print("trigram index used:", "contacts_name_key_trgm_idx" in plan)
        await explain(conn, "the trigram index alone, a Cyrillic literal",
                      "SELECT id FROM contacts WHERE name_key % $1 AND merged_into IS NULL AND removed_at IS NULL",
                      "кузнецова анна сергеевна")
        found, rows = await timed(conn, q("similar_names_of_contact"), copy, SIMILAR_PHONE_DIGITS, 100)
        print(f"similar names of one contact: {found * 1000:.1f} ms, {rows} candidates")
    await conn.execute(f"SET work_mem = '{NAME_QUERY_WORK_MEM}'")  # as duplicates() sets it for its transaction
    await explain(conn, "whole-base name candidates (top 100)", q("name_duplicates"), 100, SIMILAR_PHONE_DIGITS)
    for name, args in (("name_duplicates", (100, SIMILAR_PHONE_DIGITS)),
                       ("name_duplicates", (100_000, SIMILAR_PHONE_DIGITS)),
                       ("identifier_duplicates", (100,))):
        took, rows = await timed(conn, q(name), *args, repeats=1)
        print(f"{name} limit {args[0]}: {took:.2f} s, {rows} rows")
    found = {tuple(r["contact_ids"]) for r in await conn.fetch(q("name_duplicates"), 1_000_000,
                                                                SIMILAR_PHONE_DIGITS)}
    recall = sum((min(a, b), max(a, b)) in found for a, b in pairs) / len(pairs)
    print(f"planted re-typed copies found among name candidates: {recall:.1%} (the rest: hints, or no evidence)")


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


async def run(args: argparse.Namespace) -> None:
    admin = await asyncpg.connect(ADMIN_URL)
    db = f"callbridge_bench_dups_{os.getpid()}"
    await admin.execute(f'CREATE DATABASE "{db}"')
    try:
        conn = await asyncpg.connect(ADMIN_URL.rsplit("/", 1)[0] + "/" + db)
        try:
            await migrate.migrate(conn)
            start = time.perf_counter()
            base = await load_base(conn, contacts=args.contacts)
            print(f"base: {base.contacts:,} contacts, {base.phones:,} phones, loaded in "
                  f"{time.perf_counter() - start:.0f} s (name_key generated, btree + GIN trigram indexes)")
            pairs = await add_duplicates(conn, count=args.duplicates, base=args.contacts)
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
    p.add_argument("--merges", type=int, default=500, help="merges (then undos) to time")
    configure_logging(level="warning", fmt="json")
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
