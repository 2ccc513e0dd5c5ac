"""``python -m bench.spool [--appends 50000] [--backlog 100000] [--live-rate 300]``

The spool's targets (docs/BENCHMARKS.md), measured on this machine:

- appends: ``--writers`` coroutines append (and wait for) real spool records of
  whole calls at once, for ``--appends`` records in all; reported: appends/s
  and records per fsync (group fsync);
- replay: a spool of ``--backlog`` records is replayed into a fresh, migrated
  database with 10,000 contacts (on the PostgreSQL at 127.0.0.1:5432, dropped
  at the end), through the intake's group commit, while ``--live-rate`` new
  events/s arrive through ``Intake.accept``; reported: replayed events/s and
  the live events' p50/p99.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import asyncpg

from adapters.mango.webhooks import event_reader
from bench.suite.__main__ import ADMIN_URL
from bench.suite.calls import CallMaker, interleaved
from bench.suite.contacts import load_base
from bench.suite.stats import percentile
from daemon.domain.events import Envelope
from daemon.intake.durable import Intake
from daemon.intake.pipeline import Pipeline
from daemon.intake.spool import Spool
from daemon.runtime.logs import configure_logging
from daemon.store import migrate
from daemon.store.records import dump_envelope
from daemon.store.repository import Repository

CONTACTS = 10_000


def envelopes(count: int, *, tag: str, base_phones: int) -> list[Envelope]:
    """``count`` events of interleaved whole calls, as the Mango adapter makes them."""
    stream = interleaved(CallMaker(tag=tag, base_phones=base_phones, seed=7, t0=int(time.time()) - 3600))
    out: list[Envelope] = []
    while len(out) < count:
        path, payload = next(stream)
        reader = event_reader(path)
        assert reader is not None
        translated = reader(payload)
        out.append(Envelope(source="mango", path=path, raw=json.dumps(payload, ensure_ascii=False),
                            dedup_key=translated.dedup_key, event=translated.event))
    return out


class CountingSpool(Spool):
    writes = 0

    def _write_records(self, records: list[bytes]) -> None:
        self.writes += 1
        super()._write_records(records)


async def bench_appends(records: list[bytes], *, writers: int) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="cb-spool-bench-"))
    spool = CountingSpool(folder)
    todo = iter(records)

    async def writer() -> None:
        for record in todo:
            await spool.append(record)

    try:
        started = time.perf_counter()
        await asyncio.gather(*(writer() for _ in range(writers)))
        elapsed = time.perf_counter() - started
    finally:
        spool.close()
        shutil.rmtree(folder, ignore_errors=True)
    return {"appends_per_s": len(records) / elapsed, "per_fsync": len(records) / max(1, spool.writes),
            "seconds": elapsed}


async def bench_replay(backlog: list[Envelope], live: list[Envelope], *, live_rate: float) -> dict[str, float]:
    admin = await asyncpg.connect(ADMIN_URL)
    name = f"callbridge_spoolbench_{os.getpid()}"
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    url = f"{ADMIN_URL.rsplit('/', 1)[0]}/{name}"
    folder = Path(tempfile.mkdtemp(prefix="cb-spool-bench-"))
    try:
        conn = await asyncpg.connect(url)
        await migrate.migrate(conn)
        await load_base(conn, contacts=CONTACTS, progress=lambda *_: None)
        await conn.close()
        spool = Spool(folder)
        for start in range(0, len(backlog), 1000):
            spool._write_records([_framed(dump_envelope(e)) for e in backlog[start:start + 1000]])
        pool = await asyncpg.create_pool(url, min_size=2, max_size=10)
        intake = Intake(Pipeline(Repository(pool), region="RU"), spool=spool, db_budget_s=2.0)
        latencies: list[float] = []

        async def feed() -> None:
            started = time.perf_counter()
            for i, env in enumerate(live):
                due = started + i / live_rate
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                asyncio.ensure_future(_timed(intake, env, due, latencies))

        feeder = asyncio.create_task(feed()) if live else None
        started = time.perf_counter()
        applied = await intake.replay_spool()
        elapsed = time.perf_counter() - started
        if feeder is not None:
            feeder.cancel()
        await asyncio.sleep(2.5)
        stored = await pool.fetchval("SELECT count(*) FROM inbox")
        await pool.close()
        spool.close()
        return {"replayed": applied, "per_s": applied / elapsed, "seconds": elapsed,
                "backlog_left": spool.backlog(), "live_sent": len(latencies),
                "live_p50_ms": percentile(latencies, 50) * 1000 if latencies else 0.0,
                "live_p99_ms": percentile(latencies, 99) * 1000 if latencies else 0.0,
                "inbox_rows": stored, "batches": intake.committer.batches,
                "events_per_batch": intake.committer.events / max(1, intake.committer.batches)}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def _framed(payload: bytes) -> bytes:
    from daemon.intake.spool import _record
    return _record(payload)


async def _timed(intake: Intake, env: Envelope, due: float, out: list[float]) -> None:
    await intake.accept(env)
    out.append(time.perf_counter() - due)


async def run(args: argparse.Namespace) -> None:
    configure_logging(level="warning", fmt="json")
    print(f"load average before: {os.getloadavg()}", flush=True)
    events = envelopes(args.backlog + args.live, tag=f"spool{os.getpid()}", base_phones=CONTACTS)
    records = [dump_envelope(e) for e in events[:args.appends]]
    a = await bench_appends(records, writers=args.writers)
    print(f"appends: {a['appends_per_s']:,.0f}/s with fsync, {a['per_fsync']:.1f} records per fsync "
          f"({len(records):,} records, {args.writers} writers, {a['seconds']:.1f} s)", flush=True)
    live = events[args.backlog:args.backlog + int(args.live_rate * 30)] if args.live_rate else []
    r = await bench_replay(events[:args.backlog], live, live_rate=args.live_rate)
    print(f"replay: {r['replayed']:,} events in {r['seconds']:.1f} s = {r['per_s']:,.0f}/s, "
          f"{r['events_per_batch']:.1f} events per transaction, backlog left {r['backlog_left']}; "
          f"meanwhile {r['live_sent']:,} live events at {args.live_rate:g}/s: p50 {r['live_p50_ms']:.1f} ms, "
          f"p99 {r['live_p99_ms']:.1f} ms; inbox rows {r['inbox_rows']:,}", flush=True)
    print(f"load average after: {os.getloadavg()}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.spool", description=__doc__)
    p.add_argument("--appends", type=int, default=50_000)
    p.add_argument("--writers", type=int, default=256)
    p.add_argument("--backlog", type=int, default=100_000)
    p.add_argument("--live-rate", type=float, default=300.0)
    p.add_argument("--live", type=int, default=20_000, help="live events made (at most rate × 30 s are sent)")
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
