"""``python -m bench.messengers [--rates 50,100,200] [--seconds 30] [--runs 3] [--daemons 2]``: the messenger webhooks'
acknowledgement latency (request sent → 200 received, the delivery durable) under an
open-loop load mixed over MAX, Wazzup, Green-API, Avito and Telegram Business.

A throw-away database on the PostgreSQL at 127.0.0.1:5432 (dropped at the end), the
real daemon (``python -m daemon.cli run``, log level warning) on 127.0.0.1, and the
load generator of bench/suite (latency timed from each request's due time, so a daemon
falling behind shows in the tail). Prints the percentiles and what was stored.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from bench.messengers.deliveries import SOURCES, requests
from bench.suite.__main__ import ADMIN_URL
from bench.suite.daemon import cpu_seconds
from bench.suite.httpload import open_loop
from bench.suite.machine import describe
from bench.suite.stats import percentile
from daemon.store import migrate
from tests.support.daemon import Daemon

WARMUP_S = 3.0
DRAIN_WAIT_S = 120.0
OUTCOMES = ("stored", "duplicate", "spooled")


async def _metrics(port: int) -> str:
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/metrics") as resp:
        return await resp.text()


def _outcomes(text: str) -> dict[str, float]:
    """The webhooks answered so far, by outcome (callbridge_events_total, every type)."""
    counts = dict.fromkeys(OUTCOMES, 0.0)
    for line in text.splitlines():
        if line.startswith("callbridge_events_total{"):
            for outcome in OUTCOMES:
                if f'outcome="{outcome}"' in line:
                    counts[outcome] += float(line.rsplit(" ", 1)[1])
    return counts


async def _backends_cpu(conn: asyncpg.Connection) -> dict[int, float]:
    """CPU seconds so far of each PostgreSQL backend on the bench's database (this machine's server)."""
    pids = await conn.fetch("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
    return {r["pid"]: cpu_seconds(r["pid"]) for r in pids}


async def _functions(conn: asyncpg.Connection) -> dict[str, float]:
    """Milliseconds spent so far in each PL/pgSQL function itself (track_functions = pl)."""
    rows = await conn.fetch("SELECT funcname, self_time FROM pg_stat_user_functions")
    return {r["funcname"]: r["self_time"] for r in rows}


async def _drain(port: int) -> None:
    """Until the spool is empty: what it took is in PostgreSQL before the daemon stops."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DRAIN_WAIT_S
    while loop.time() < deadline:
        for line in (await _metrics(port)).splitlines():
            if line.startswith("callbridge_spool_backlog ") and float(line.split()[1]) == 0:
                return
        await asyncio.sleep(0.5)


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.messengers", description=__doc__)
    p.add_argument("--rates", default="200", help="deliveries per second (open loop), comma-separated")
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--people", type=int, default=2000, help="persons per channel")
    p.add_argument("--repeats", type=float, default=0.05, help="share of deliveries sent twice")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--admin-url", default=ADMIN_URL)
    p.add_argument("--log", type=Path, default=None, help="keep the daemon's log here")
    p.add_argument("--daemons", type=int, default=1,
                   help="daemon processes on the one database, the deliveries dealt round-robin among them "
                        "(as a load balancer in front of two instances does)")
    return p.parse_args()


async def _phase(daemons: list[Daemon], args: argparse.Namespace, rate: float, seed: int,
                 conn: asyncpg.Connection) -> dict[str, Any]:
    bodies = requests(int(rate * args.seconds), host="127.0.0.1", people=args.people,
                      repeat_share=args.repeats, seed=seed)
    before = [_outcomes(await _metrics(d.port)) for d in daemons]
    load = os.getloadavg()[0]
    cpu = sum(cpu_seconds(d.proc.pid) for d in daemons if d.proc is not None)
    backends = await _backends_cpu(conn)
    functions = await _functions(conn)
    n = len(daemons)
    # Each daemon gets every n-th delivery at rate/n: together the open loop's one rate.
    parts = await asyncio.gather(*(open_loop(bodies[k::n], rate=rate / n, duration_s=args.seconds,
                                             host="127.0.0.1", port=d.port) for k, d in enumerate(daemons)))
    after = [_outcomes(await _metrics(d.port)) for d in daemons]
    ms = [s * 1000 for part in parts for s in part.latencies]
    # What the deliveries left to settle after their commit (migration 0036), as the load ends.
    unsettled = await conn.fetchval("SELECT count(*) FROM settle_pending")
    for d in daemons:
        await _drain(d.port)
    offered = sum(part.offered for part in parts)
    cpu_ms_each = (sum(cpu_seconds(d.proc.pid) for d in daemons if d.proc is not None) - cpu) * 1000 / max(offered, 1)
    backends_after = await _backends_cpu(conn)
    pg_ms_each = sum(s - backends.get(pid, 0.0) for pid, s in backends_after.items()) * 1000 / max(offered, 1)
    # (the statement counting the functions runs before the drain's last writes are read: good enough)
    spent = {name: ms - functions.get(name, 0.0) for name, ms in (await _functions(conn)).items()}
    top = sorted(((name, round(ms / max(offered, 1), 3)) for name, ms in spent.items() if ms > 0),
                 key=lambda kv: -kv[1])[:8]
    return {"rate": rate, "daemons": n, "distinct": len(set(bodies)), "offered": offered,
            "ok": sum(part.ok for part in parts), "failed": sum(part.failed for part in parts),
            **{k: sum(a[k] - b[k] for a, b in zip(after, before, strict=True)) for k in OUTCOMES},
            "load_1min_before": load, "daemon_cpu_ms_per_delivery": cpu_ms_each,
            "postgres_cpu_ms_per_delivery": pg_ms_each, "unsettled_at_end": unsettled, "functions_ms_per_delivery": dict(top),
            "p50_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95), "p99_ms": percentile(ms, 99),
            "max_ms": max(ms) if ms else float("nan")}


async def run(args: argparse.Namespace) -> dict:
    admin = await asyncpg.connect(args.admin_url)
    db = f"callbridge_bench_msg_{os.getpid()}"
    await admin.execute(f'CREATE DATABASE "{db}"')
    # Each PL/pgSQL function's own time (the triggers' share of a delivery): pg_stat_user_functions.
    await admin.execute(f'ALTER DATABASE "{db}" SET track_functions = \'pl\'')
    db_url = args.admin_url.rsplit("/", 1)[0] + f"/{db}"
    out: dict = {}
    try:
        conn = await asyncpg.connect(db_url)
        out["machine"] = await describe(conn)
        await migrate.migrate(conn)
        with tempfile.TemporaryDirectory(prefix="callbridge-bench-msg-") as tmp:
            daemons = [Daemon(state_dir=Path(tmp) / f"state{k}",
                              log_path=(args.log.with_suffix(f".{k}.log") if args.log and k else args.log)
                              or Path(tmp) / f"daemon{k}.log",
                              env={"CALLBRIDGE_DATABASE_URL": db_url, "CALLBRIDGE_LOG_LEVEL": "warning",
                                   "CALLBRIDGE_SOURCES": json.dumps(SOURCES)})
                       for k in range(args.daemons)]
            for daemon in daemons:
                await daemon.start()
            try:
                warm = requests(int(50 * WARMUP_S), host="w", people=args.people, repeat_share=0.0, seed=999)
                await asyncio.gather(*(open_loop(warm[k::len(daemons)], rate=50 / len(daemons), duration_s=WARMUP_S,
                                                 host="127.0.0.1", port=d.port) for k, d in enumerate(daemons)))
                rates = [float(r) for r in args.rates.split(",")]
                out["runs"] = []
                for run in range(args.runs):
                    for i, rate in enumerate(rates):
                        out["runs"].append(await _phase(daemons, args, rate, 1 + run * len(rates) + i, conn))
                        print(json.dumps(out["runs"][-1]), file=sys.stderr, flush=True)
                out["sent_distinct"] = len(warm) + sum(r["distinct"] for r in out["runs"])
            finally:
                out["daemon_exit"] = [await daemon.stop() for daemon in daemons]
        out["stored"] = dict(await conn.fetch(
            "SELECT channel, count(*) FROM communications WHERE source IS NOT NULL GROUP BY 1"))
        out["inbox"] = await conn.fetchval("SELECT count(*) FROM inbox")  # = sent_distinct: none lost
        out["load_after"] = os.getloadavg()[:2]
        await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()
    return out


def main() -> None:
    args = _args()
    result = asyncio.run(run(args))
    print(json.dumps(result, ensure_ascii=False, indent=1, default=str))


if __name__ == "__main__":
    main()
