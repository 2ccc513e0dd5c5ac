"""``python -m bench.suite [--quick] [--contacts N | --ten-million]``: run the benchmark suite.

Creates a database of its own on the PostgreSQL at 127.0.0.1:5432, fills it,
starts the daemon against it, measures, drops the database, and writes the
results into docs/BENCHMARKS.md (the section between this suite's markers).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import asdict
from pathlib import Path

import asyncpg

from bench.suite import report
from bench.suite.calls import CallMaker, Keys, requests
from bench.suite.contacts import load_base
from bench.suite.daemon import REPO_ROOT, CpuMeter, Daemon, RssSampler
from bench.suite.httpload import Results, closed_loop, open_loop
from bench.suite.machine import describe
from bench.suite.micro import lookup_latency, normalisation_cost
from bench.suite.stats import diff, histogram, histogram_quantile, median, percentile, share_at_most
from daemon.intake.spool import SEGMENT_GLOB
from daemon.runtime.logs import configure_logging
from daemon.store import migrate

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
KEYS = Keys(api_key="bench4lqk1r8ry8ntqk4bq5gmrg83ay3x", api_salt="benchyq3b4wxjqjmkfn6hx9u1jpb4yde1")
HISTOGRAM = "callbridge_event_processing_seconds"
SLO_S = 0.010
# Upper bound on what one phase may need; a daemon faster than this ends the phase early.
MAX_RATE_PER_S = 5000
SPOOL_DRAIN_WAIT_S = 600.0
STUCK_GAUGE_S = 15.0
FINAL_DRAIN_WAIT_S = 900.0  # before counting what was stored, everything spooled must be replayed


def _entries(bodies: set[bytes]) -> set[bytes]:
    """The calls of these requests that make a communication (a DTMF event alone makes none)."""
    return {b.split(b"entry_id%22%3A%22", 1)[1].split(b"%22", 1)[0] for b in bodies
            if not b.startswith(b"POST /mango/events/dtmf")}


def _gauge(text: str | None, name: str) -> float:
    return next((float(line.split()[-1]) for line in (text or "").splitlines()
                 if line.startswith(name + " ")), 0.0)


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.suite", description=__doc__)
    p.add_argument("--quick", action="store_true", help="100k contacts, 10 s phases, one run each")
    p.add_argument("--contacts", type=int, help="contacts in the base (default 1,000,000; quick 100,000)")
    p.add_argument("--ten-million", action="store_true", help="10,000,000 contacts")
    p.add_argument("--seconds", type=float, help="length of each load phase (default 20; quick 10)")
    p.add_argument("--sustain-seconds", type=float, help="length of the sustained-rate phase (default 60)")
    p.add_argument("--sustain-rate", type=float, default=2000.0, help="events/s of the sustained phase")
    p.add_argument("--sustain-repeats", type=int, default=1,
                   help="runs of the sustained phase (default 1: past capacity its spool takes minutes to drain)")
    p.add_argument("--repeats", type=int, help="runs of each load phase (default 3; quick 1)")
    p.add_argument("--concurrency", type=int, default=32, help="connections of the closed loop")
    p.add_argument("--only", default="", help="comma list of parts: micro,start,closed,open,slo,logslo,sustain")
    p.add_argument("--admin-url", default=ADMIN_URL, help="PostgreSQL (127.0.0.1 only) to create the bench database on")
    p.add_argument("--daemon-tree", type=Path, default=REPO_ROOT,
                   help="run the daemon from this source tree (an A/B comparison with another version)")
    p.add_argument("--uvloop", action="store_true",
                   help="experiment: run the daemon on uvloop's event loop (uvloop must be installed)")
    p.add_argument("--out", type=Path, default=REPO_ROOT / "docs" / "BENCHMARKS.md")
    p.add_argument("--json", type=Path, help="also write every measured number here")
    p.add_argument("--label", default="", help="a note for this run in the report (e.g. 'before')")
    p.add_argument("--profile", type=Path, help="py-spy the daemon during the first closed-loop phase into "
                   "this file (collapsed stacks; needs py-spy in the venv)")
    p.add_argument("--render", type=Path, help="measure nothing: write the report of a run saved with --json")
    p.add_argument("--no-write", action="store_true", help="print the report, do not touch docs/")
    a = p.parse_args(argv)
    a.contacts = a.contacts or (10_000_000 if a.ten_million else 100_000 if a.quick else 1_000_000)
    a.seconds = a.seconds or (10.0 if a.quick else 20.0)
    a.sustain_seconds = a.sustain_seconds or (10.0 if a.quick else 60.0)
    a.repeats = a.repeats or (1 if a.quick else 3)
    a.parts = set(filter(None, a.only.split(","))) or {"micro", "start", "closed", "open", "slo", "logslo",
                                                       "sustain"}
    if "127.0.0.1" not in a.admin_url and "localhost" not in a.admin_url:
        p.error("--admin-url must point at 127.0.0.1")
    return a


def say(text: str) -> None:
    print(text, flush=True)


class Suite:
    def __init__(self, args: argparse.Namespace, db_url: str, base_phones: int, state: Path) -> None:
        self.args = args
        self.db_url = db_url
        self.base_phones = base_phones
        self.state = state
        self.daemon: Daemon | None = None
        self.sent: dict[str, tuple[int, int]] = {}  # phase tag -> (distinct events, calls) sent
        self.phase_no = 0
        self.stuck_backlog: float | None = None

    async def start_daemon(self, log_level: str = "warning") -> Daemon:
        if self.daemon is not None:
            await self.daemon.stop()
        self.daemon = Daemon(database_url=self.db_url, state_dir=self.state, keys=KEYS, log_level=log_level,
                             tree=self.args.daemon_tree, uvloop=self.args.uvloop)
        await self.daemon.start()
        return self.daemon

    def _bodies(self, tag: str, count: int) -> list[bytes]:
        maker = CallMaker(tag=tag, base_phones=self.base_phones, seed=zlib.crc32(tag.encode()),
                          t0=int(time.time()) - 86_400)
        bodies, _ = requests(maker, count, keys=KEYS, host=self.daemon.host)
        return bodies

    def _remember(self, tag: str, bodies: list[bytes], result: Results) -> None:
        """What the database must hold after this phase: at least what was acknowledged, at most what was sent."""
        sent = set(bodies[:result.offered])
        acked = {bodies[i] for i in result.acked}
        self.sent[tag] = (len(acked), len(sent), len(_entries(acked)), len(_entries(sent)))

    async def phase(self, kind: str, *, rate: float | None = None, seconds: float) -> dict:
        """One load phase on the running daemon, with its RSS and the daemon's histogram."""
        d = self.daemon
        assert d is not None
        self.phase_no += 1
        tag = f"p{self.phase_no}{kind}"
        count = int((rate or MAX_RATE_PER_S) * seconds) + 1
        bodies = self._bodies(tag, count)
        before = await d.metrics()
        meter = CpuMeter(d, self.args.admin_url, self.db_url.rsplit("/", 1)[1])
        cpu_before = await meter.snapshot()
        profiler = self._profiler(seconds) if kind == "closed" else None
        with RssSampler(d) as rss:
            if rate is None:
                r = await closed_loop(bodies, concurrency=self.args.concurrency, duration_s=seconds,
                                      host="127.0.0.1", port=d.port)
            else:
                r = await open_loop(bodies, rate=rate, duration_s=seconds, host="127.0.0.1", port=d.port)
        cpu_daemon, cpu_pg = CpuMeter.spent(cpu_before, await meter.snapshot())
        after = await d.metrics()
        if profiler is not None:
            profiler.wait(timeout=seconds + 30)
        self._remember(tag, bodies, r)
        span = max(1e-9, (r.last_done or r.started) - r.started)
        out = {
            "tag": tag, "kind": kind, "offered_rate": rate, "seconds": seconds, "sent": r.offered,
            "ok": r.ok, "not_ok": r.offered - r.ok, "statuses": dict(r.statuses), "errors": dict(r.errors),
            "outcomes": dict(r.outcomes), "events_per_s": r.ok / span,
            "calls_per_s": self.sent[tag][2] / span,
            "p50_ms": percentile(r.latencies, 50) * 1e3, "p95_ms": percentile(r.latencies, 95) * 1e3,
            "p99_ms": percentile(r.latencies, 99) * 1e3, "max_ms": max(r.latencies, default=0) * 1e3,
            "daemon_cpu_us_per_event": cpu_daemon / max(1, r.ok) * 1e6,
            "pg_cpu_us_per_event": cpu_pg / max(1, r.ok) * 1e6,
            "connections": r.connections, "rss_steady_mib": rss.steady_mib, "rss_peak_mib": rss.peak_mib,
        }
        if before is not None and after is not None:
            h = diff(histogram(after, HISTOGRAM), histogram(before, HISTOGRAM))
            out.update(server_p50_ms=histogram_quantile(h, 0.5) * 1e3,
                       server_p95_ms=histogram_quantile(h, 0.95) * 1e3,
                       server_p99_ms=histogram_quantile(h, 0.99) * 1e3,
                       server_share_le_10ms=share_at_most(h, SLO_S))
        say(f"  {tag}: {r.offered} sent, {r.ok} ok, {out['events_per_s']:.0f} ev/s, "
            f"p50 {out['p50_ms']:.1f} p99 {out['p99_ms']:.1f} ms"
            + (f", server p99 {out['server_p99_ms']:.1f} ms" if "server_p99_ms" in out else "")
            + f", CPU/event daemon {out['daemon_cpu_us_per_event']:.0f} µs PG {out['pg_cpu_us_per_event']:.0f} µs"
            + f", RSS {out['rss_steady_mib']:.0f}/{out['rss_peak_mib']:.0f} MiB, {dict(r.outcomes)}"
            + (f", errors {dict(r.errors)} statuses {dict(r.statuses)}" if r.ok != r.offered else ""))
        out["spool_drain_s"] = await self.settle()
        if out["outcomes"].get("spooled"):
            say(f"    spool replayed in {out['spool_drain_s']:.0f} s")
        return out

    def _spool_files(self) -> list[Path]:
        # Segments only: spool.lock stays while the daemon runs.
        return [p for p in (self.state / "spool").glob(SEGMENT_GLOB) if p.is_file()]

    def _profiler(self, seconds: float) -> subprocess.Popen | None:
        target, self.args.profile = self.args.profile, None  # the first closed-loop phase only
        if target is None:
            return None
        spy = Path(sys.executable).with_name("py-spy")
        return subprocess.Popen([str(spy), "record", "-p", str(self.daemon.proc.pid), "-d", str(int(seconds)),
                                 "-r", "200", "-f", "raw", "-o", str(target), "--nonblocking"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    async def settle(self, wait_s: float = SPOOL_DRAIN_WAIT_S) -> float:
        """Wait for the spool to drain (if the daemon reports it), then a short pause; returns the wait."""
        started = time.perf_counter()
        deadline = started + wait_s
        last, unchanged_since = None, started
        while time.perf_counter() < deadline:
            text = await self.daemon.metrics()
            backlog = _gauge(text, "callbridge_spool_backlog")
            if backlog == 0:
                break
            if backlog != last:
                last, unchanged_since = backlog, time.perf_counter()
            elif (time.perf_counter() - unchanged_since > STUCK_GAUGE_S
                  and _gauge(text, "callbridge_db_pool_in_use") == 0 and not self._spool_files()):
                # The gauge says events wait, but the spool is empty and nothing replays.
                self.stuck_backlog = backlog
                say(f"    the spool is empty but callbridge_spool_backlog stays at {backlog:.0f}")
                break
            await asyncio.sleep(0.5)
        waited = time.perf_counter() - started
        await asyncio.sleep(2.0)
        return waited


async def run(args: argparse.Namespace) -> dict:
    results: dict = {"args": {k: (str(v) if isinstance(v, Path | set) else v) for k, v in vars(args).items()}}
    admin = await asyncpg.connect(args.admin_url)
    db = f"callbridge_bench_{os.getpid()}"
    await admin.execute(f'CREATE DATABASE "{db}"')
    db_url = args.admin_url.rsplit("/", 1)[0] + f"/{db}"
    try:
        conn = await asyncpg.connect(db_url)
        try:
            results["machine"] = await describe(conn)
            await migrate.migrate(conn)
            say(f"loading {args.contacts:,} contacts into {db} ...")
            base = await load_base(conn, contacts=args.contacts, progress=say)
            results["base"] = asdict(base)
            say(f"  {base.contacts:,} contacts, {base.phones:,} phones in {base.seconds:.1f} s")
            if "micro" in args.parts:
                n = 20_000 if args.quick else 100_000
                results["lookup"] = asdict(await lookup_latency(
                    conn, contacts=base.contacts, base_phones=base.phones, lookups=n, runs=3))
                say(f"  lookup: {results['lookup']}")
                results["normalisation"] = asdict(normalisation_cost(numbers=n, runs=3))
                say(f"  normalisation: {results['normalisation']}")
        finally:
            await conn.close()
        with tempfile.TemporaryDirectory(prefix="callbridge-bench-") as tmp:
            suite = Suite(args, db_url, base.phones, Path(tmp))
            try:
                await _load_phases(suite, args, results)
                await suite.settle(FINAL_DRAIN_WAIT_S)
                load1, load5, _ = os.getloadavg()
                results["machine"]["load_after"] = f"{load1:.2f} (1 min), {load5:.2f} (5 min)"
                results["check"] = await _check(db_url, suite.sent)
                results["stuck_spool_gauge"] = suite.stuck_backlog
            finally:
                if suite.daemon is not None:
                    results["daemon_exit"] = await suite.daemon.stop()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()
    return results


async def _load_phases(suite: Suite, args: argparse.Namespace, results: dict) -> None:
    reps, secs = args.repeats, args.seconds
    if "start" in args.parts:
        starts, readies = [], []
        for _ in range(5 if not args.quick else 3):
            d = await suite.start_daemon()
            starts.append(d.started_to_port_s)
            readies.append(d.started_to_ready_s)
        results["start"] = {"to_port_s": starts, "to_ready_s": readies}
        say(f"  start to accepting: {[round(s, 3) for s in starts]} s; READY=1: {readies}")
    d = suite.daemon or await suite.start_daemon()
    results["has_metrics"] = await d.metrics() is not None
    say(f"daemon on {d.host}, pid {d.proc.pid}, /metrics {'present' if results['has_metrics'] else 'absent'}")
    await suite.phase("warm", rate=200, seconds=min(5.0, secs))
    max_rate = None
    if "closed" in args.parts:
        say("closed loop (maximum throughput):")
        results["closed"] = [await suite.phase("closed", seconds=secs) for _ in range(reps)]
        max_rate = median([r["events_per_s"] for r in results["closed"]])
    # Phases that stay within capacity first; the two past it (200 % and the
    # sustained rate) last, because what they spool is replayed for minutes.
    shares = (0.25, 0.5, 1.0)
    if "open" in args.parts and max_rate:
        say(f"open loop at fractions of {max_rate:.0f} events/s:")
        results["open"] = {str(share): [await suite.phase("open", rate=max_rate * share, seconds=secs)
                                        for _ in range(reps)] for share in shares}
    if "slo" in args.parts:
        say("open loop at 500 events/s:")
        results["at500"] = [await suite.phase("at500", rate=500, seconds=secs) for _ in range(reps)]
    if "logslo" in args.parts:
        say("500 events/s with info-level logs (server-side latency from elapsed_ms):")
        d = await suite.start_daemon(log_level="info")
        out = await suite.phase("logged500", rate=500, seconds=secs)
        ms = d.webhook_log_ms()
        out.update(log_lines=len(ms), log_p50_ms=percentile(ms, 50), log_p95_ms=percentile(ms, 95),
                   log_p99_ms=percentile(ms, 99), log_share_le_10ms=sum(m <= 10 for m in ms) / max(1, len(ms)))
        results["logged500"] = out
        say(f"  from the log: {len(ms)} lines, p50 {out['log_p50_ms']} p99 {out['log_p99_ms']} ms")
        await suite.start_daemon()
    if "open" in args.parts and max_rate:
        say(f"open loop at twice {max_rate:.0f} events/s:")
        results["open"]["2.0"] = [await suite.phase("open", rate=max_rate * 2, seconds=secs) for _ in range(reps)]
    if "sustain" in args.parts:
        say(f"sustained {args.sustain_rate:.0f} events/s for {args.sustain_seconds:.0f} s:")
        results["sustain"] = [await suite.phase("sustain", rate=args.sustain_rate,
                                                seconds=args.sustain_seconds)
                              for _ in range(args.sustain_repeats)]


async def _check(db_url: str, sent: dict[str, tuple[int, int, int, int]]) -> dict:
    """Every event answered 200 is in the inbox, once; every call with such an event has one communication.

    An event answered 503 may or may not be stored (the PBX retries it; this
    load generator does not), so it only bounds the counts from above.
    """
    conn = await asyncpg.connect(db_url)
    try:
        inbox = {r["tag"]: r["n"] for r in await conn.fetch(
            "SELECT split_part(entry_id, '-', 2) AS tag, count(*) AS n FROM inbox"
            " WHERE entry_id LIKE 'bench-%' GROUP BY 1")}
        comms = {r["tag"]: r["n"] for r in await conn.fetch(
            "SELECT split_part(entry_id, '-', 2) AS tag, count(*) AS n FROM communications"
            " WHERE entry_id LIKE 'bench-%' GROUP BY 1")}
    finally:
        await conn.close()
    rows = {tag: {"events_acked": acked, "events_sent": ev, "events_in_inbox": inbox.get(tag, 0),
                  "calls_acked": calls_acked, "calls_sent": calls, "communications": comms.get(tag, 0)}
            for tag, (acked, ev, calls_acked, calls) in sent.items()}
    for r in rows.values():
        r["ok"] = (r["events_acked"] <= r["events_in_inbox"] <= r["events_sent"]
                   and r["calls_acked"] <= r["communications"] <= r["calls_sent"])
        r["acked_missing_at_least"] = max(0, r["events_acked"] - r["events_in_inbox"])
    ok = all(r["ok"] for r in rows.values())
    say(f"check: {'every acknowledged event stored, nothing doubled' if ok else 'ACKNOWLEDGED EVENTS MISSING'}")
    for tag, r in rows.items():
        if not r["ok"] or r["events_acked"] != r["events_sent"]:
            say(f"  {tag}: {r}")
    return {"ok": ok, "phases": rows}


def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    configure_logging(level="warning", fmt="console")  # the migrations this process applies
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    if args.render:
        results = json.loads(args.render.read_text())
    else:
        started = time.time()
        results = asyncio.run(run(args))
        results["wall_s"] = time.time() - started
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    text = report.section(results)
    if args.no_write:
        print(text)
    else:
        report.write(args.out, text)
        say(f"wrote {args.out}")
    return 0 if results.get("check", {}).get("ok", True) else 1


if __name__ == "__main__":
    sys.exit(main())
