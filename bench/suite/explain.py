"""``python -m bench.suite.explain [--contacts N]``: the hot queries' plans on a big base.

History queries must read only the rows they return, and that
every foreign key we look up by has an index. This builds a throw-away database
with the bench's contact base (1,000,000 contacts by default), two million
calls (one supplier's number with 20,000 of them, one contact with 5,000) and
a million raw events, then runs ``EXPLAIN (ANALYZE, BUFFERS)`` of each named
query with the generic plan a long-lived asyncpg connection ends up using,
once with this build's indexes and once with the indexes before migration
0004. The plans, the rows each reads and the timings go into
docs/BENCHMARKS.md between this step's markers. No test asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from bench.suite.contacts import load_base
from bench.suite.daemon import REPO_ROOT
from bench.suite.machine import describe
from daemon.store import migrate
from daemon.store.queries import q

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BEGIN = "<!-- bench-explain:begin (written by python -m bench.suite.explain; edits inside are overwritten) -->"
END = "<!-- bench-explain:end -->"
SUPPLIER = "+74957770011"  # a hotel the managers ring all the time: nobody's contact
BUSY_CONTACT = 1
RUNS = 5
_NAMES = itertools.count(1)
CALL_KINDS = ["call_leg", "call_finished", "recording", "recording_stored"]

# The indexes of migration 0003, to show what 0004 changed (dropped and made
# again inside a transaction that is rolled back).
BEFORE_0004 = [
    "DROP INDEX communications_contact_idx",
    "CREATE INDEX communications_contact_idx ON communications (contact_id, started_at)",
    "DROP INDEX communications_phone_idx",
    "CREATE INDEX communications_phone_idx ON communications (phone, started_at)",
    "DROP INDEX communications_lead_idx",
    "DROP INDEX communications_manager_idx",
    "DROP INDEX leads_contact_idx",
    "DROP INDEX inbox_received_idx",
    "DROP INDEX communications_unfinished_idx",
]


@dataclass(frozen=True)
class Case:
    title: str
    sql: str
    args: tuple[Any, ...]
    rollback: bool = False  # a write, measured inside a transaction that is rolled back


def cases(contacts: int, some_contact: int, some_phone: str, some_lead: int) -> list[Case]:
    return [
        Case("history of a busy number (API, no bounds)", q("communications_by_phone"), (SUPPLIER, None, None, 50)),
        Case("history of a busy number since 30 days", q("communications_by_phone"),
             (SUPPLIER, "now-30d", None, 50)),
        Case("history of a busy contact (API)", q("communications_by_contact"), (BUSY_CONTACT, None, None, 50)),
        Case("history of a usual contact (API)", q("communications_by_contact"), (some_contact, None, None, 50)),
        Case("screen: last 5 calls of a busy contact", q("screen_history_by_contact"), (BUSY_CONTACT, "x", 5)),
        Case("screen: last 5 calls of a busy number", q("screen_history_by_phone"), (SUPPLIER, "x", 5)),
        Case("contact card by phone", q("contact_card_by_identifier"), ("phone", some_phone)),
        Case("pipeline: a call's events and links", q("call_state"), ("bench-123457", CALL_KINDS)),
        Case("open lead of a contact", q("find_open_lead"), (some_contact,)),
        Case("every lead of a contact (FK leads.contact_id)",
             "SELECT id FROM leads WHERE contact_id = $1", (some_contact,)),
        Case("calls of a lead (FK communications.lead_id)",
             "SELECT id FROM communications WHERE lead_id = $1", (some_lead,)),
        Case("delete a lead (ON DELETE SET NULL on communications)",
             "DELETE FROM leads WHERE id = $1", (some_lead,), rollback=True),
        Case("missed-call report, the night", q("missed_callers"), ("now-1d", "now")),
        Case("missed-call report, 7-day lookback", q("missed_callers"), ("now-7d", "now")),
        Case("missed-call report, 93 days (the cap)", q("missed_callers"), ("now-93d", "now")),
        Case("retention: one batch of candidates", q("prune_inbox_candidates"), ("now-180d", 5000)),
    ]


def _value(arg: Any) -> Any:
    if isinstance(arg, str) and arg.startswith("now"):
        days = int(arg[4:-1]) if len(arg) > 3 else 0
        return time.time() - days * 86_400
    return arg


async def _literal(conn: asyncpg.Connection, arg: Any) -> str:
    value = _value(arg)
    if isinstance(arg, str) and arg.startswith("now"):
        return f"to_timestamp({value})"
    if isinstance(value, list):
        return await conn.fetchval("SELECT quote_literal($1::text[]::text)", value)
    return await conn.fetchval("SELECT quote_nullable($1::text)", None if value is None else str(value))


def _shape(node: dict[str, Any]) -> str:
    """``Limit → Index Scan (communications_phone_idx)``: the plan's spine, indexes named."""
    label = node["Node Type"]
    if node.get("Index Name"):
        label += f" ({node['Index Name']})"
    elif node.get("Relation Name") and "Scan" in label:
        label += f" ({node['Relation Name']})"
    kids = [k for k in node.get("Plans", []) if k.get("Parent Relationship") != "SubPlan"]
    subs = [k for k in node.get("Plans", []) if k.get("Parent Relationship") == "SubPlan"]
    out = label
    if kids:
        out += " → " + (_shape(kids[0]) if len(kids) == 1 else "[" + "; ".join(_shape(k) for k in kids) + "]")
    if subs:
        out += " {subplans: " + "; ".join(_shape(k) for k in subs) + "}"
    return out


def _rows_read(node: dict[str, Any]) -> int:
    """Rows the scans produced plus those they threw away: what the query read."""
    own = 0
    if "Scan" in node["Node Type"]:
        loops = node.get("Actual Loops", 1)
        own = (node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)) * loops
    return own + sum(_rows_read(k) for k in node.get("Plans", []))


async def explain(conn: asyncpg.Connection, case: Case) -> dict[str, Any]:
    stmt = await conn.prepare(case.sql)
    types = ", ".join([await conn.fetchval("SELECT format_type($1, NULL)", t.oid)
                       for t in stmt.get_parameters()])
    name = f"bench_q{next(_NAMES)}"  # asyncpg keeps its own prepared statements: never DEALLOCATE ALL
    await conn.execute(f"PREPARE {name} ({types}) AS {case.sql}")
    literals = ", ".join([await _literal(conn, a) for a in case.args])
    times, doc = [], None
    for _ in range(RUNS):
        tx = conn.transaction()
        await tx.start()
        try:
            raw = await conn.fetchval(
                f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE {name}({literals})")
        finally:
            await tx.rollback()
        doc = json.loads(raw)[0]
        times.append(doc["Execution Time"] + doc["Planning Time"])
    assert doc is not None
    plan = doc["Plan"]
    buffers = plan.get("Shared Hit Blocks", 0) + plan.get("Shared Read Blocks", 0)
    return {"title": case.title, "shape": _shape(plan), "rows": plan.get("Actual Rows", 0),
            "read": _rows_read(plan), "buffers": buffers, "ms": statistics.median(times)}


async def fill_calls(conn: asyncpg.Connection, *, contacts: int, calls: int, events: int) -> None:
    """Two million calls over a year and a million raw events, in SQL (no triggers: no NOTIFY storm)."""
    await conn.execute("SET session_replication_role = replica")
    async with conn.transaction():
        await conn.execute("""
            INSERT INTO communications (entry_id, direction, status, phone, contact_id, lead_id, manager_id,
                                        manager_extension, started_at, ended_at, talk_seconds, finished)
            SELECT 'bench-' || g,
                   CASE WHEN g % 10 < 7 THEN 'inbound' ELSE 'outbound' END,
                   CASE WHEN g % 5 = 0 THEN 'missed' ELSE 'answered' END,
                   (SELECT p.value FROM contact_identifiers p WHERE p.contact_id = c.cid LIMIT 1),
                   c.cid,
                   (SELECT l.id FROM leads l WHERE l.contact_id = c.cid AND l.status = 'open'),
                   CASE WHEN g % 5 = 0 THEN NULL ELSE 1 + g % 20 END,
                   CASE WHEN g % 5 = 0 THEN NULL ELSE (100 + 1 + g % 20)::text END,
                   now() - make_interval(secs => (g * 15.77) % 31536000),
                   now() - make_interval(secs => (g * 15.77) % 31536000) + interval '3 minutes',
                   CASE WHEN g % 5 = 0 THEN 0 ELSE 180 END, true
            FROM generate_series(1::bigint, $2::bigint) AS g
            CROSS JOIN LATERAL (SELECT CASE WHEN g % 400 = 0 THEN $3 ELSE 1 + (g * 7919) % $1 END AS cid) c
        """, contacts, calls, BUSY_CONTACT)
        await conn.execute("""
            INSERT INTO communications (entry_id, direction, status, phone, manager_id, manager_extension,
                                        started_at, ended_at, talk_seconds, finished)
            SELECT 'bench-supplier-' || g, 'outbound', 'answered', $1, 1 + g % 20, (101 + g % 20)::text,
                   now() - make_interval(secs => g * 1500), now() - make_interval(secs => g * 1500 - 120),
                   120, true
            FROM generate_series(1, 20000) AS g
        """, SUPPLIER)
        await conn.execute("""
            INSERT INTO inbox (dedup_key, source, path, raw, kind, entry_id, call_id, event, received_at)
            SELECT 'bench:' || g, 'mango', 'events/call', '{}', 'call_leg', 'bench-' || e,
                   'leg-' || g, '{}'::jsonb, now() - make_interval(secs => (e * 15.77) % 31536000)
            FROM generate_series(0::bigint, $1::bigint - 1) AS g
            -- Ten events for every call of a sample spread over the whole year.
            CROSS JOIN LATERAL (SELECT 1 + (g / 10) * greatest(1, $2::bigint * 10 / $1::bigint) AS e) AS sample
        """, events, calls)
    await conn.execute("SET session_replication_role = DEFAULT")
    await conn.execute("VACUUM ANALYZE communications")
    await conn.execute("VACUUM ANALYZE inbox")


async def _pick(conn: asyncpg.Connection, contacts: int) -> tuple[int, str, int]:
    row = await conn.fetchrow(
        "SELECT l.contact_id, p.value, l.id FROM leads l JOIN contact_identifiers p ON p.contact_id = l.contact_id"
        " WHERE l.contact_id > $1 AND l.contact_id <> $2"
        "   AND EXISTS (SELECT 1 FROM communications c WHERE c.contact_id = l.contact_id)"
        " ORDER BY l.contact_id LIMIT 1", contacts // 2, BUSY_CONTACT)
    return row["contact_id"], row["phone"], row["id"]


async def _run_all(conn: asyncpg.Connection, all_cases: list[Case]) -> list[dict[str, Any]]:
    await conn.execute("SET plan_cache_mode = force_generic_plan")
    return [await explain(conn, case) for case in all_cases]


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    admin = await asyncpg.connect(args.admin_url)
    db = f"callbridge_explain_{os.getpid()}"
    await admin.execute(f'CREATE DATABASE "{db}"')
    try:
        conn = await asyncpg.connect(args.admin_url.rsplit("/", 1)[0] + "/" + db, command_timeout=3600)
        try:
            await migrate.migrate(conn)
            started = time.perf_counter()
            base = await load_base(conn, contacts=args.contacts, progress=print)
            await fill_calls(conn, contacts=args.contacts, calls=args.calls, events=args.events)
            print(f"  base and calls loaded in {time.perf_counter() - started:.0f} s")
            contact, phone, lead = await _pick(conn, args.contacts)
            all_cases = cases(args.contacts, contact, phone, lead)
            after = await _run_all(conn, all_cases)
            tx = conn.transaction()
            await tx.start()
            try:
                for statement in BEFORE_0004:
                    await conn.execute(statement)
                await conn.execute("ANALYZE communications")
                before = await _run_all(conn, all_cases)
            finally:
                await tx.rollback()
            machine = await describe(conn)
            sizes = {t: await conn.fetchval(f"SELECT count(*) FROM {t}")  # names from this list only
                     for t in ("contacts", "contact_identifiers", "leads", "communications", "inbox")}
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()
    return {"contacts": base.contacts, "sizes": sizes, "after": after, "before": before,
            "machine": machine, "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def section(res: dict[str, Any]) -> str:
    sizes = res["sizes"]
    lines = [BEGIN, "", f"## Query plans at {res['contacts']:,} contacts (bench/suite/explain.py)", "",
             f"Run {res['when']} by `python -m bench.suite.explain` (`make bench-explain`) on "
             f"{res['machine']['cpus']}, {res['machine']['memory']}, PostgreSQL {res['machine']['postgresql']}; "
             f"load before: {res['machine']['load_before']}. The base: "
             + ", ".join(f"{name} {sizes.get(name, 0):,}" for name in
                         ("contacts", "contact_identifiers", "leads", "communications", "inbox"))
             + f" rows; one supplier's number has 20,000 calls and contact {BUSY_CONTACT} has 5,000. "
             "Each query runs with the generic plan (`plan_cache_mode = force_generic_plan`, what a "
             f"long-lived asyncpg connection may use), median of {RUNS} warm runs, planning included. "
             "*Rows read* counts the rows the plan's scans produced or filtered away.", ""]
    before = {r["title"]: r for r in res["before"]}
    lines += ["| query | plan (this build) | rows | rows read | buffers | ms | before 0004: rows read | ms |",
              "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in res["after"]:
        b = before[r["title"]]
        lines.append(f"| {r['title']} | `{r['shape']}` | {r['rows']:,} | {r['read']:,} | {r['buffers']:,} "
                     f"| {r['ms']:.2f} | {b['read']:,} | {b['ms']:.2f} |")
    lines += ["", "Plans before migration 0004 (the rows that differ):", ""]
    for r in res["after"]:
        b = before[r["title"]]
        if b["shape"] != r["shape"]:
            lines.append(f"- {r['title']}: `{b['shape']}`")
    lines += ["", END]
    return "\n".join(lines)


def write(path: Path, text: str) -> None:
    doc = path.read_text(encoding="utf-8") if path.exists() else ""
    if BEGIN in doc and END in doc:
        head, rest = doc.split(BEGIN, 1)
        doc = head + text + rest.split(END, 1)[1]
    else:
        doc = doc.rstrip() + "\n\n" + text + "\n"
    path.write_text(doc, encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.suite.explain", description=__doc__)
    p.add_argument("--contacts", type=int, default=1_000_000)
    p.add_argument("--calls", type=int, default=2_000_000)
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--admin-url", default=ADMIN_URL)
    p.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "BENCHMARKS.md")
    p.add_argument("--json", type=Path, help="also write every measured number here")
    p.add_argument("--no-write", action="store_true", help="print the section, do not touch docs/")
    args = p.parse_args(argv)
    res = asyncio.run(measure(args))
    text = section(res)
    if args.json:
        args.json.write_text(json.dumps(res, ensure_ascii=False, indent=1, default=str))
    print(text)
    if not args.no_write:
        write(args.out, text)


if __name__ == "__main__":
    main()
