"""``python -m bench.sidebyside [--rates 500,1000,1500,2000] [--rounds 3] [--seconds 15]``

The side-by-side comparison, run the same way for both receivers: callbridge (the
real ``callbridge run``) and ``bench.reference`` (sign check, JSON, normalise,
one lookup, one transaction per event), each on a database of its own on the
same PostgreSQL, each with the same 10,000 contacts. For every rate and round
the two alternate (which goes first alternates too), each gets freshly made
whole signed calls (10-ish events per call, known and new callers, repeats and
swaps), sent open loop and timed from each request's due time. Reported: the
medians over rounds of p50/p99, the rate achieved, errors, and CPU per event
of the receiver plus its PostgreSQL backends; then the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from bench.suite import report
from bench.suite.__main__ import ADMIN_URL, KEYS
from bench.suite.calls import CallMaker, requests
from bench.suite.contacts import load_base
from bench.suite.daemon import REPO_ROOT, CpuMeter, Daemon, free_port
from bench.suite.httpload import open_loop
from bench.suite.machine import describe
from bench.suite.stats import median, percentile
from daemon.runtime.logs import configure_logging
from daemon.store import migrate

BEGIN = "<!-- bench-sidebyside:begin (written by python -m bench.sidebyside; edits inside are overwritten) -->"
END = "<!-- bench-sidebyside:end -->"
CONTACTS = 10_000
SETTLE_S = 2.0


@dataclass
class Reference:
    """``python -m bench.reference`` as a subprocess, shaped like bench.suite's Daemon for CpuMeter."""

    database_url: str
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.reference", "--listen", self.host, "--database-url",
             self.database_url, "--key", KEYS.api_key, "--salt", KEYS.api_salt], cwd=REPO_ROOT)
        deadline = time.perf_counter() + 30
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"reference exited with {self.proc.returncode}")
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                return
            await asyncio.sleep(0.02)
        raise RuntimeError("reference receiver did not listen within 30 s")

    async def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)
            if self.proc.poll() is None:
                self.proc.kill()


async def _databases(admin: asyncpg.Connection, tag: str) -> tuple[str, str]:
    names = (f"callbridge_sbs_{tag}", f"reference_sbs_{tag}")
    for name in names:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    base = ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{names[0]}", f"{base}/{names[1]}"


async def _fill(cb_url: str, ref_url: str, contacts: int) -> None:
    conn = await asyncpg.connect(cb_url)
    try:
        await migrate.migrate(conn)
        base = await load_base(conn, contacts=contacts, progress=lambda *_: None)
    finally:
        await conn.close()
    conn = await asyncpg.connect(ref_url)
    try:
        await conn.execute((Path(__file__).parents[1] / "reference" / "schema.sql").read_text())
        # The same phones to the same contact ids, in the order load_base numbered them.
        phones = await _phones_of(cb_url)
        await conn.copy_records_to_table("ref_phones", records=phones, columns=("phone", "contact_id"))
        await conn.execute("VACUUM ANALYZE ref_phones")
        assert len(phones) == base.phones
    finally:
        await conn.close()


async def _phones_of(cb_url: str) -> list[tuple[str, int]]:
    conn = await asyncpg.connect(cb_url)
    try:
        return [(r["value"], r["contact_id"]) for r in await conn.fetch(
            "SELECT value, contact_id FROM contact_identifiers WHERE kind = 'phone'")]
    finally:
        await conn.close()


async def _phase(target, database: str, *, rate: float, seconds: float, tag: str) -> dict:
    maker = CallMaker(tag=tag, base_phones=CONTACTS, seed=hash(tag) & 0xFFFF, t0=1_760_000_000)
    bodies, _ = requests(maker, int(rate * seconds), keys=KEYS, host=target.host)
    meter = CpuMeter(target, ADMIN_URL, database)
    memory = getattr(target, "status_kib", None)  # callbridge's; the reference's is not compared
    if memory is not None:
        target.reset_peak()
    before = await meter.snapshot()
    res = await open_loop(bodies, rate=rate, duration_s=seconds, host="127.0.0.1", port=target.port)
    after = await meter.snapshot()
    kib = memory() if memory is not None else {"VmRSS": 0, "VmHWM": 0}
    own, backends = CpuMeter.spent(before, after)
    ok = max(1, res.ok)
    return {
        "p50_ms": percentile(res.latencies, 50) * 1000, "p99_ms": percentile(res.latencies, 99) * 1000,
        "achieved": res.ok / max(1e-9, (res.last_done or res.sent_all_at) - res.started),
        "errors": res.failed, "cpu_ms": own * 1000 / ok, "pg_cpu_ms": backends * 1000 / ok,
        "rss_mb": kib["VmRSS"] / 1024, "peak_rss_mb": kib["VmHWM"] / 1024,
        # What the errors were: the client's (lost connection, drain timeout) and non-200 answers.
        "error_kinds": {**res.errors, **{f"HTTP {s}": n for s, n in res.statuses.items() if s != 200}},
    }


def _table(results: dict[float, dict[str, list[dict]]], seconds: float, rounds: int) -> list[str]:
    lines = [
        f"Open loop, {rounds} rounds × {seconds:g} s per rate and receiver, alternating; medians over rounds. "
        "CPU is per event answered 200: the receiver's process / its PostgreSQL backends.", "",
        "| offered ev/s | p50 ref | p50 callbridge | p99 ref | p99 callbridge | p99 × | achieved ref / callbridge "
        "| errors ref / callbridge | CPU ms/ev ref (proc+pg) | CPU ms/ev callbridge (proc+pg) | CPU × "
        "| callbridge RSS after / peak |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for rate, by in sorted(results.items()):
        m = {who: {k: median([r[k] for r in runs]) for k in runs[0]} for who, runs in by.items()}
        ref, cb = m["reference"], m["callbridge"]
        cpu_ref, cpu_cb = ref["cpu_ms"] + ref["pg_cpu_ms"], cb["cpu_ms"] + cb["pg_cpu_ms"]
        lines.append(
            f"| {rate:,.0f} | {ref['p50_ms']:.1f} ms | {cb['p50_ms']:.1f} ms | {ref['p99_ms']:.1f} ms "
            f"| {cb['p99_ms']:.1f} ms | {cb['p99_ms'] / ref['p99_ms']:.2f} | {ref['achieved']:,.0f} / "
            f"{cb['achieved']:,.0f} | {ref['errors']:.0f} / {cb['errors']:.0f} "
            f"| {ref['cpu_ms']:.2f}+{ref['pg_cpu_ms']:.2f} = {cpu_ref:.2f} "
            f"| {cb['cpu_ms']:.2f}+{cb['pg_cpu_ms']:.2f} = {cpu_cb:.2f} | {cpu_cb / cpu_ref:.2f} "
            f"| {cb['rss_mb']:.0f} / {cb['peak_rss_mb']:.0f} MB |")
    return lines


async def run(args: argparse.Namespace) -> int:
    configure_logging(level="warning", fmt="json")
    tag = f"{os.getpid()}"
    admin = await asyncpg.connect(ADMIN_URL)
    machine = await describe(admin)
    cb_url, ref_url = await _databases(admin, tag)
    state = Path(tempfile.mkdtemp(prefix="cb-sbs-"))
    cb = Daemon(database_url=cb_url, state_dir=state, keys=KEYS, tree=Path(args.daemon_tree))
    ref = Reference(database_url=ref_url)
    results: dict[float, dict[str, list[dict]]] = {}
    try:
        await _fill(cb_url, ref_url, CONTACTS)
        await cb.start()
        await ref.start()
        for rate in args.rates:
            results[rate] = {"reference": [], "callbridge": []}
            for rnd in range(args.rounds):
                order = [("reference", ref, ref_url), ("callbridge", cb, cb_url)]
                if (rnd + args.rates.index(rate)) % 2:
                    order.reverse()
                for who, target, url in order:
                    r = await _phase(target, url.rsplit("/", 1)[1], rate=rate, seconds=args.seconds,
                                     tag=f"{who}-{rate:g}-{rnd}")
                    kinds = r.pop("error_kinds")
                    results[rate][who].append(r)
                    print(f"{who:>10} {rate:>6,.0f}/s round {rnd + 1}: p50 {r['p50_ms']:.1f} ms, "
                          f"p99 {r['p99_ms']:.1f} ms, {r['achieved']:,.0f}/s, errors {r['errors']}"
                          + (f" {kinds}" if kinds else "") + ", "
                          f"CPU {r['cpu_ms']:.2f}+{r['pg_cpu_ms']:.2f} ms/ev"
                          + (f", RSS {r['rss_mb']:.0f} MB (peak {r['peak_rss_mb']:.0f})" if r["rss_mb"] else "")
                          + f", load {os.getloadavg()[0]:.1f}", flush=True)
                    await asyncio.sleep(SETTLE_S)
    finally:
        await cb.stop()
        await ref.stop()
        shutil.rmtree(state, ignore_errors=True)
        for url in (cb_url, ref_url):
            await admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
        await admin.close()
    table = _table(results, args.seconds, args.rounds)
    print("\n".join(table))
    if not args.no_write:
        section = [BEGIN, "## Side by side with a bare receiver (bench/sidebyside)", "",
                   f"Run: {machine['date']}; {machine['cpus']}, {machine['memory']}; {machine['postgresql']}; "
                   f"load before: {machine['load_before']}. {CONTACTS:,} contacts in each database.", "",
                   *table, "", END]
        report.write(REPO_ROOT / "docs" / "BENCHMARKS.md", "\n".join(section) + "\n", begin=BEGIN, end_marker=END)
    return 0


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.sidebyside", description=__doc__)
    p.add_argument("--rates", type=lambda s: [float(x) for x in s.split(",")], default=[500, 1000, 1500, 2000])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--daemon-tree", default=str(REPO_ROOT), help="run callbridge from this source tree")
    p.add_argument("--no-write", action="store_true", help="print only; leave docs/BENCHMARKS.md alone")
    sys.exit(asyncio.run(run(p.parse_args())))


if __name__ == "__main__":
    main()
