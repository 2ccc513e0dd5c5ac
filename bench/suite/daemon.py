"""The daemon under test: a real ``python -m daemon.cli run`` subprocess on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bench.suite.calls import Keys
from tests.support.daemon import daemon_env
from tests.support.net import free_port
from tests.support.paths import REPO

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 20.0
RSS_SAMPLE_S = 0.2
REPO_ROOT = REPO
API_TOKEN = "bench-token-not-a-secret"
UVLOOP_LAUNCHER = ("import asyncio, sys, uvloop; asyncio.set_event_loop_policy(uvloop.EventLoopPolicy()); "
                   "from daemon.cli import main; sys.exit(main(['run']))")


@dataclass
class Daemon:
    database_url: str
    state_dir: Path
    keys: Keys
    log_level: str = "warning"
    tree: Path = REPO_ROOT  # the source tree the daemon runs from (cwd wins over the installed one)
    uvloop: bool = False  # an experiment: the same daemon on uvloop's event loop
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    log_path: Path | None = None
    started_to_port_s: float | None = None
    started_to_ready_s: float | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _env(self, notify_socket: str) -> dict[str, str]:
        return daemon_env(port=self.port, state_dir=self.state_dir, api_key=self.keys.api_key,
                          api_salt=self.keys.api_salt, api_token=API_TOKEN, database_url=self.database_url,
                          log_level=self.log_level) | {"NOTIFY_SOCKET": notify_socket}

    async def start(self) -> float:
        """Start and wait until the port accepts connections; returns seconds from spawn."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.state_dir / f"daemon-{self.port}-{int(time.time() * 1000)}.log"
        notify_path = self.state_dir / f"notify-{self.port}.sock"
        notify_path.unlink(missing_ok=True)
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(str(notify_path))
        notify.setblocking(False)
        log = self.log_path.open("wb")
        spawned = time.perf_counter()
        command = [sys.executable, "-m", "daemon.cli", "run"]
        if self.uvloop:
            command = [sys.executable, "-c", UVLOOP_LAUNCHER]
        self.proc = subprocess.Popen(command, cwd=self.tree,
                                     env=self._env(str(notify_path)), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        try:
            while True:
                if self.proc.poll() is not None:
                    tail = self.log_path.read_text(errors="replace").strip().splitlines()[-5:]
                    raise RuntimeError(f"daemon exited with {self.proc.returncode}: " + "\n".join(tail))
                if time.perf_counter() - spawned > READY_TIMEOUT_S:
                    raise RuntimeError(f"daemon not accepting after {READY_TIMEOUT_S} s; see {self.log_path}")
                self._check_notify(notify, spawned)
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                except OSError:
                    await asyncio.sleep(0.005)
                    continue
                self.started_to_port_s = time.perf_counter() - spawned
                writer.close()
                break
            # READY=1, if this daemon speaks sd_notify, comes around the same time.
            until = time.perf_counter() + 0.5
            while self.started_to_ready_s is None and time.perf_counter() < until:
                self._check_notify(notify, spawned)
                await asyncio.sleep(0.005)
        finally:
            notify.close()
            notify_path.unlink(missing_ok=True)
        return self.started_to_port_s

    def _check_notify(self, notify: socket.socket, spawned: float) -> None:
        with contextlib.suppress(BlockingIOError):
            while True:
                message = notify.recv(4096)
                if b"READY=1" in message.split(b"\n") and self.started_to_ready_s is None:
                    self.started_to_ready_s = time.perf_counter() - spawned

    async def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        deadline = time.perf_counter() + STOP_TIMEOUT_S
        while self.proc.poll() is None and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        return self.proc.returncode

    # -- memory -------------------------------------------------------------
    def status_kib(self) -> dict[str, int]:
        assert self.proc is not None
        out = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                out[name] = int(value.split()[0])
        return out

    def reset_peak(self) -> None:
        """Reset VmHWM to the current RSS (Linux: write 5 to clear_refs)."""
        assert self.proc is not None
        with contextlib.suppress(OSError):
            Path(f"/proc/{self.proc.pid}/clear_refs").write_text("5")

    # -- the daemon's own view -------------------------------------------------
    async def get(self, path: str) -> tuple[int, str]:
        timeout = aiohttp.ClientTimeout(total=10)
        headers = {"Authorization": f"Bearer {API_TOKEN}"}
        async with aiohttp.ClientSession(timeout=timeout) as session:
            async with session.get(f"http://{self.host}{path}", headers=headers) as resp:
                return resp.status, await resp.text()

    async def metrics(self) -> str | None:
        """The Prometheus text of GET /metrics, or None when this daemon has no such endpoint."""
        try:
            status, text = await self.get("/metrics")
        except (aiohttp.ClientError, TimeoutError):
            return None
        return text if status == 200 else None

    def webhook_log_ms(self) -> list[float]:
        """``elapsed_ms`` of every ``webhook`` line in this run's log (info level only)."""
        import json

        out = []
        assert self.log_path is not None
        with self.log_path.open("rb") as f:
            for line in f:
                if b'"webhook"' not in line:
                    continue
                with contextlib.suppress(ValueError):
                    record = json.loads(line)
                    if record.get("event") == "webhook" and "elapsed_ms" in record:
                        out.append(float(record["elapsed_ms"]))
        return out


class RssSampler:
    """Samples VmRSS while a phase runs; reports the peak and the steady (second-half median)."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.samples: list[int] = []
        self.hwm_kib = 0
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(OSError, AssertionError):
                self.samples.append(self.daemon.status_kib()["VmRSS"])
            await asyncio.sleep(RSS_SAMPLE_S)

    def __enter__(self) -> RssSampler:
        self.daemon.reset_peak()
        self._task = asyncio.get_running_loop().create_task(self._run(), name="rss-sampler")
        return self

    def __exit__(self, *exc) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(OSError, AssertionError):
            self.hwm_kib = self.daemon.status_kib()["VmHWM"]

    @property
    def peak_mib(self) -> float:
        return max([*self.samples, self.hwm_kib]) / 1024 if self.samples else 0.0

    @property
    def steady_mib(self) -> float:
        tail = self.samples[len(self.samples) // 2:]
        return statistics.median(tail) / 1024 if tail else 0.0


CLOCK_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS_PER_S


class CpuMeter:
    """CPU spent by the daemon and by its PostgreSQL backends between two snapshots.

    On a shared machine the wall-clock rate depends on what else runs; CPU per
    event does much less, so it is the fairer yardstick for a before/after.
    """

    def __init__(self, daemon: Daemon, admin_url: str, database: str) -> None:
        self.daemon = daemon
        self.admin_url = admin_url
        self.database = database

    async def snapshot(self) -> tuple[float, dict[int, float]]:
        import asyncpg

        conn = await asyncpg.connect(self.admin_url)
        try:
            pids = [r["pid"] for r in await conn.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1", self.database)]
        finally:
            await conn.close()
        assert self.daemon.proc is not None
        return cpu_seconds(self.daemon.proc.pid), {pid: cpu_seconds(pid) for pid in pids}

    @staticmethod
    def spent(before: tuple[float, dict[int, float]], after: tuple[float, dict[int, float]]) -> tuple[float, float]:
        """(daemon CPU s, backends CPU s) between the snapshots."""
        backends = sum(cpu - before[1].get(pid, 0.0) for pid, cpu in after[1].items())
        return after[0] - before[0], backends
