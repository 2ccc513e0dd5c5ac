"""``python -m bench.messengers [--rates 50,100,200] [--seconds 30] [--runs 3]``: the messenger webhooks'
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

import aiohttp
import asyncpg

from bench.messengers.deliveries import SOURCES, requests
from bench.suite.__main__ import ADMIN_URL
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


def _cpu_s(pid: int) -> float:
    """The daemon's user + system CPU seconds so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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
    return p.parse_args()


async def _phase(daemon: Daemon, args: argparse.Namespace, rate: float, seed: int) -> dict[str, float]:
    bodies = requests(int(rate * args.seconds), host=f"127.0.0.1:{daemon.port}", people=args.people,
                      repeat_share=args.repeats, seed=seed)
    before = _outcomes(await _metrics(daemon.port))
    load = os.getloadavg()[0]
    assert daemon.proc is not None
    cpu = _cpu_s(daemon.proc.pid)
    results = await open_loop(bodies, rate=rate, duration_s=args.seconds, host="127.0.0.1", port=daemon.port)
    after = _outcomes(await _metrics(daemon.port))
    ms = [s * 1000 for s in results.latencies]
    await _drain(daemon.port)
    cpu_ms_each = (_cpu_s(daemon.proc.pid) - cpu) * 1000 / max(results.offered, 1)  # the spool's replay too
    return {"rate": rate, "distinct": len(set(bodies)), "offered": results.offered, "ok": results.ok,
            "failed": results.failed,
            **{k: after[k] - before[k] for k in OUTCOMES}, "load_1min_before": load,
            "daemon_cpu_ms_per_delivery": cpu_ms_each,
            "p50_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95), "p99_ms": percentile(ms, 99),
            "max_ms": max(ms) if ms else float("nan")}


async def run(args: argparse.Namespace) -> dict:
    admin = await asyncpg.connect(args.admin_url)
    db = f"callbridge_bench_msg_{os.getpid()}"
    await admin.execute(f'CREATE DATABASE "{db}"')
    db_url = args.admin_url.rsplit("/", 1)[0] + f"/{db}"
    out: dict = {}
    try:
        conn = await asyncpg.connect(db_url)
        out["machine"] = await describe(conn)
        await migrate.migrate(conn)
        with tempfile.TemporaryDirectory(prefix="callbridge-bench-msg-") as tmp:
            daemon = Daemon(state_dir=Path(tmp) / "state", log_path=args.log or Path(tmp) / "daemon.log", env={
                "CALLBRIDGE_DATABASE_URL": db_url, "CALLBRIDGE_LOG_LEVEL": "warning",
                "CALLBRIDGE_SOURCES": json.dumps(SOURCES)})
            await daemon.start()
            try:
                warm = requests(int(50 * WARMUP_S), host="w", people=args.people, repeat_share=0.0, seed=999)
                await open_loop(warm, rate=50, duration_s=WARMUP_S, host="127.0.0.1", port=daemon.port)
                rates = [float(r) for r in args.rates.split(",")]
                out["runs"] = []
                for run in range(args.runs):
                    for i, rate in enumerate(rates):
                        out["runs"].append(await _phase(daemon, args, rate, 1 + run * len(rates) + i))
                        print(json.dumps(out["runs"][-1]), file=sys.stderr, flush=True)
                out["sent_distinct"] = len(warm) + sum(r["distinct"] for r in out["runs"])
            finally:
                out["daemon_exit"] = await daemon.stop()
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
