"""``python -m bench.routing [--contacts N] [--levels 1,10,50,100,200] [--seconds S]``.

See the package docstring. Prints a Markdown report (and ``--json`` writes the numbers).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg

from bench.routing.contacts import load_contacts
from bench.routing.load import Level, LoadGenerator
from bench.routing.pbx import TimestampingPbx
from daemon.store import migrate

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
API_KEY = "bench-product-key"
API_SALT = "bench-salt-not-a-secret"
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0
# Open every day all day: the benchmark measures the routing path, not the calendar.
CONFIG_TOML = """
timezone = "Europe/Moscow"
[office_hours]
mon = "00:00-24:00"
tue = "00:00-24:00"
wed = "00:00-24:00"
thu = "00:00-24:00"
fri = "00:00-24:00"
sat = "00:00-24:00"
sun = "00:00-24:00"
"""


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.routing", description=__doc__)
    p.add_argument("--server", default=os.environ.get("CALLBRIDGE_BENCH_SERVER_URL", DEFAULT_SERVER),
                   help="admin URL of the PostgreSQL server (a database is created and dropped there)")
    p.add_argument("--contacts", type=int, default=1_000_000)
    p.add_argument("--levels", default="1,10,50,100,200",
                   help="calls in flight, back to back (each call starts when the previous is routed)")
    p.add_argument("--paced", default="100:1.0",
                   help="IN_FLIGHT:HOLD_S,...: calls in flight that each stay HOLD_S (±50%%) after routing")
    p.add_argument("--seconds", type=float, default=12.0, help="measured seconds per level")
    p.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each level")
    p.add_argument("--log-level", default="info", choices=("debug", "info", "warning", "error"),
                   help="the daemon's log level (its log goes to a file)")
    p.add_argument("--json", type=Path, help="also write the results here")
    return p.parse_args(argv)


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_cpu_seconds(pid: int) -> Callable[[], float]:
    ticks = os.sysconf("SC_CLK_TCK")

    def read() -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime

    return read


async def machine(conn: asyncpg.Connection) -> dict[str, str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem_kib = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:"))
    return {
        "cpus": f"{os.cpu_count()} × {cpu}",
        "memory": f"{mem_kib / 1024 / 1024:.1f} GiB",
        "postgresql": f"{await conn.fetchval('SHOW server_version')} on 127.0.0.1, same machine",
        "python": platform.python_version(),
        "load_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


class Daemon:
    """``python -m daemon.cli run`` against the benchmark database, routing to the stand-in PBX."""

    def __init__(self, *, database_url: str, pbx_url: str, state_dir: Path, log_level: str) -> None:
        self.port = free_port()
        self.state_dir = state_dir
        config = state_dir / "routing-bench.toml"
        config.write_text(CONFIG_TOML, encoding="utf-8")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CALLBRIDGE_")}
        self.env.update({
            "CALLBRIDGE_CONFIG": str(config),
            "CALLBRIDGE_DATABASE_URL": database_url,
            "CALLBRIDGE_LISTEN": f"127.0.0.1:{self.port}",
            "CALLBRIDGE_MANGO_API_KEY": API_KEY,
            "CALLBRIDGE_MANGO_API_SALT": API_SALT,
            "CALLBRIDGE_MANGO_API_URL": pbx_url,
            "CALLBRIDGE_API_TOKEN": "bench-token-not-a-secret",
            "CALLBRIDGE_STATE_DIR": str(state_dir),
            "CALLBRIDGE_ROUTE_RATE_PER_S": "1000000",   # "the limiter set high"
            "CALLBRIDGE_LOG_LEVEL": log_level,
            "CALLBRIDGE_LOG_FORMAT": "json",
        })
        self.proc: asyncio.subprocess.Process | None = None
        self.log_path = state_dir / "daemon.log"

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/mango/events/call"

    async def start(self) -> None:
        with self.log_path.open("wb") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "daemon.cli", "run", cwd=REPO_ROOT, env=self.env,
                stdout=log, stderr=asyncio.subprocess.STDOUT)
        deadline = time.monotonic() + READY_TIMEOUT_S
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.proc.returncode is not None:
                    raise RuntimeError(f"the daemon exited: see {self.log_path}")
                try:
                    async with session.post(f"http://127.0.0.1:{self.port}/mango/ping") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError(f"the daemon did not answer in {READY_TIMEOUT_S} s: see {self.log_path}")

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), timeout=STOP_TIMEOUT_S)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


def daemon_log_events(path: Path) -> dict[str, int]:
    """How often the daemon logged what matters here: spooled events are not routed, and
    decisions other than ``responsible`` explain a missing route command."""
    counts: dict[str, int] = {}
    with path.open(encoding="utf-8", errors="replace") as log:
        for line in log:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            name = entry.get("event", "?")
            if name == "route_decided":
                name = f"route_decided:{entry.get('reason')}"
            if name in ("webhook", "pbx_command") or entry.get("level") == "debug":
                continue
            counts[name] = counts.get(name, 0) + 1
    return counts


def report(machine_info: dict[str, str], loaded_s: float, contacts: int, levels: list[Level]) -> str:
    lines = [
        (f"Machine: {machine_info['cpus']}, {machine_info['memory']} RAM; "
         f"PostgreSQL {machine_info['postgresql']}; Python {machine_info['python']}; "
         f"load average before the run {machine_info['load_before']}."),
        f"Contacts: {contacts:,} loaded with COPY in {loaded_s:.1f} s.",
        "",
        ("| calls in flight | hold after route | calls measured | rate (calls/s) | p50 ms | p95 ms "
         "| p99 ms | max ms | webhook 200 p50 / p99 ms | daemon CPU | daemon CPU per call | missing |"),
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for lv in levels:
        s = lv.summary()
        lines.append(
            f"| {s['in_flight']} | {'none' if not lv.hold_s else f'{lv.hold_s:g} s ±50%'} | {s['calls']:,} "
            f"| {s['rate_per_s']} | {s['p50_ms']} | {s['p95_ms']} | {s['p99_ms']} | {s['max_ms']} "
            f"| {s['ack_p50_ms']} / {s['ack_p99_ms']} | {s['daemon_cpu_pct']} % "
            f"| {s['daemon_cpu_ms_per_call']} ms | {s['missing'] + s['errors']} |")
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> int:
    name = f"callbridge_bench_routing_{os.getpid()}"
    admin = await asyncpg.connect(args.server)
    info = await machine(admin)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = with_database(args.server, name)
    pbx = TimestampingPbx(api_key=API_KEY, api_salt=API_SALT)
    runner, pbx_url = await pbx.serve()
    daemon: Daemon | None = None
    levels: list[Level] = []
    events: dict[str, int] = {}
    try:
        conn = await asyncpg.connect(url)
        try:
            await migrate.migrate(conn)
            print(f"loading {args.contacts:,} contacts with COPY ...", flush=True)
            loaded_s = await load_contacts(conn, args.contacts)
            print(f"  done in {loaded_s:.1f} s", flush=True)
        finally:
            await conn.close()
        with tempfile.TemporaryDirectory(prefix="callbridge-bench-routing-") as state:
            daemon = Daemon(database_url=url, pbx_url=pbx_url, state_dir=Path(state), log_level=args.log_level)
            await daemon.start()
            assert daemon.proc is not None
            cpu = process_cpu_seconds(daemon.proc.pid)
            load = LoadGenerator(webhook_url=daemon.webhook_url, pbx=pbx, api_key=API_KEY, api_salt=API_SALT,
                                 contacts=args.contacts)
            plan = [Level(int(n), 0.0, args.seconds) for n in args.levels.split(",") if n]
            for item in filter(None, args.paced.split(",")):
                n, hold = item.split(":")
                plan.append(Level(int(n), float(hold), args.seconds))
            for level in plan:
                await load.run_level(level, warmup_s=args.warmup, cpu_seconds=cpu)
                levels.append(level)
                print(f"  {json.dumps(level.summary())}", flush=True)
            await daemon.stop()
            events = daemon_log_events(daemon.log_path)
    finally:
        if daemon is not None:
            await daemon.stop()
        await runner.cleanup()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    print(f"stand-in PBX: {pbx.routes:,} route commands, {pbx.bad_signatures} bad signatures, "
          f"{pbx.unexpected} unexpected")
    print(f"daemon log: {json.dumps(events)}")
    info["load_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print()
    print(report(info, loaded_s, args.contacts, levels))
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "contacts": args.contacts, "load_s": loaded_s,
                                         "levels": [lv.summary() for lv in levels],
                                         "daemon_log": events}, indent=1))
    return 0 if pbx.bad_signatures == 0 else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(_args(None))))
