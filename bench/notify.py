"""The screen's NOTIFY trigger: what it costs per write, before and after migration 0009.

``python -m bench.notify [--rows N] [--url postgresql://...]``

Creates a database of its own (dropped at the end), applies the migrations,
fills ``communications`` with N calls, then times N single-row updates, one
transaction each (as the pipeline writes), with a listener connected, under
three triggers:

- ``none``: no trigger (the floor);
- ``0003``: ``AFTER INSERT OR UPDATE``, a NOTIFY for every write;
- ``0009``: a NOTIFY only when a column a screen shows changed (the row's
  re-derivation from the same events is a no-op update) and for leg events.

Two kinds of update: a no-op (the row re-derived from the same events: what
most events of a call do) and a visible change (status and answered_at).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time

import asyncpg

from daemon.store import migrate

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
NOOP = "UPDATE communications SET status = status, updated_at = now() WHERE id = $1"
VISIBLE = ("UPDATE communications SET status = CASE status WHEN 'answered' THEN 'ringing' ELSE 'answered' END,"
           " answered_at = now(), updated_at = now() WHERE id = $1")
OLD_TRIGGER = """
DROP TRIGGER IF EXISTS communications_notify_call ON communications;
DROP TRIGGER IF EXISTS communications_notify_call_change ON communications;
CREATE TRIGGER communications_notify_call AFTER INSERT OR UPDATE ON communications
    FOR EACH ROW EXECUTE FUNCTION callbridge_notify_call();"""
NO_TRIGGER = """
DROP TRIGGER IF EXISTS communications_notify_call ON communications;
DROP TRIGGER IF EXISTS communications_notify_call_change ON communications;"""


async def _timed_updates(conn: asyncpg.Connection, sql: str, ids: list[int]) -> list[float]:
    took = []
    for row_id in ids:
        started = time.perf_counter_ns()
        async with conn.transaction():
            await conn.execute(sql, row_id)
        took.append((time.perf_counter_ns() - started) / 1000)
    return took


async def _case(conn: asyncpg.Connection, heard: list[str], sql: str, ids: list[int]) -> dict[str, float]:
    await _timed_updates(conn, sql, ids[: len(ids) // 10])  # warm-up
    heard.clear()
    took = await _timed_updates(conn, sql, ids)
    await asyncio.sleep(0.5)  # let the last notifications arrive
    return {"median_us": round(statistics.median(took), 1),
            "p99_us": round(sorted(took)[int(len(took) * 0.99) - 1], 1),
            "notifications_per_update": round(len(heard) / len(ids), 2)}


async def run(url: str, rows: int) -> dict[str, dict[str, dict[str, float]]]:
    name = f"callbridge_bench_notify_{os.getpid()}"
    admin = await asyncpg.connect(url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    db_url = url.rsplit("/", 1)[0] + "/" + name
    try:
        conn = await asyncpg.connect(db_url)
        listener = await asyncpg.connect(db_url)
        heard: list[str] = []
        await listener.add_listener("callbridge_calls", lambda *args: heard.append(args[3]))
        try:
            await migrate.migrate(conn)
            await conn.execute(
                "INSERT INTO communications (entry_id, status, started_at)"
                " SELECT 'bench-' || n, 'ringing', now() FROM generate_series(1, $1) AS n", rows)
            await conn.execute("VACUUM ANALYZE communications")
            ids = [r["id"] for r in await conn.fetch("SELECT id FROM communications ORDER BY id")]
            results: dict[str, dict[str, dict[str, float]]] = {}
            for label, setup in (("0009", None), ("0003", OLD_TRIGGER), ("none", NO_TRIGGER)):
                if setup:
                    await conn.execute(setup)
                results[label] = {"noop": await _case(conn, heard, NOOP, ids),
                                  "visible": await _case(conn, heard, VISIBLE, ids)}
            return results
        finally:
            await listener.close()
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--url", default=DEFAULT_URL)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.url, args.rows)), indent=2))


if __name__ == "__main__":
    main()
