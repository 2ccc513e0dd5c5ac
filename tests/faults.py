"""Tools of the fault tests: a TCP proxy that misbehaves on request, a real daemon process, a sender.

``TcpProxy`` sits between the daemon and PostgreSQL on 127.0.0.1 (an
ephemeral port) and does one of:

- ``pass``: forwards both ways;
- ``delay``: forwards each chunk after ``delay_s``;
- ``stall``: keeps every connection open and accepts new ones, but forwards
  nothing (a server that hangs);
- ``reset``: aborts every connection and refuses new ones (a server that is
  stopped), until it is set to another mode.

``Daemon`` is ``python -m daemon.cli run`` as a user starts it. ``Sender``
plays the PBX: it posts signed events and retries whatever got no 200.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import aiohttp

from tests.conftest import API_KEY, API_SALT, API_TOKEN, signed_form
from tests.scenarios import Step

ROOT = Path(__file__).parent.parent
PROXY_CHUNK_BYTES = 65536
DAEMON_START_TIMEOUT_S = 30.0
DAEMON_STOP_TIMEOUT_S = 20.0
SEND_RETRY_PAUSE_S = 0.1
SEND_REQUEST_TIMEOUT_S = 10.0


class TcpProxy:
    """A misbehaving TCP forwarder for one upstream (host, port)."""

    MODES = ("pass", "delay", "stall", "reset")

    def __init__(self, upstream_host: str, upstream_port: int, *, host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.host = host
        self.port = 0
        self.mode = "pass"
        self.delay_s = 0.0
        self.connections_seen = 0
        self._server: asyncio.Server | None = None
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._pumps: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        """Listen (on an ephemeral port the first time, the same port afterwards)."""
        self._server = await asyncio.start_server(self._accept, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def set_mode(self, mode: str, *, delay_s: float = 0.0) -> None:
        if mode not in self.MODES:
            raise ValueError(f"unknown proxy mode {mode!r}")
        previous, self.mode, self.delay_s = self.mode, mode, delay_s
        if mode == "stall":
            self._flowing.clear()
        else:
            self._flowing.set()
        if mode == "reset":
            await self._stop_listening()
            self._abort_all()
        elif previous == "reset":
            await self.start()

    async def close(self) -> None:
        await self._stop_listening()
        self._abort_all()
        for task in list(self._pumps):
            task.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)

    async def _stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def _abort_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()  # RST rather than FIN: the peer sees the link break
        self._writers.clear()

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self.connections_seen += 1
        if self.mode == "reset":
            client_w.transport.abort()
            return
        try:
            up_r, up_w = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_w.transport.abort()
            return
        self._writers.update((client_w, up_w))
        for reader, writer in ((client_r, up_w), (up_r, client_w)):
            task = asyncio.create_task(self._pump(reader, writer), name="tcp-proxy-pump")
            self._pumps.add(task)
            task.add_done_callback(self._pumps.discard)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(PROXY_CHUNK_BYTES):
                await self._flowing.wait()
                if self.mode == "delay" and self.delay_s:
                    await asyncio.sleep(self.delay_s)
                if writer.is_closing():
                    return
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._writers.discard(writer)
            if not writer.is_closing():
                writer.close()


def proxied_url(url: str, proxy: TcpProxy) -> str:
    """``url`` with its host and port replaced by the proxy's."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    auth = parts.netloc.rpartition("@")[0]
    netloc = (auth + "@" if auth else "") + f"{proxy.host}:{proxy.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    """``python -m daemon.cli run`` in a subprocess, on a fixed port and state directory."""

    def __init__(self, *, state_dir: Path, log_path: Path, env: dict[str, str], port: int | None = None) -> None:
        self.port = port or free_port()
        self.state_dir = state_dir
        self.log_path = log_path
        self.env = env
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALLBRIDGE_")}
        env |= {
            "CALLBRIDGE_LISTEN": f"127.0.0.1:{self.port}",
            "CALLBRIDGE_STATE_DIR": str(self.state_dir),
            "CALLBRIDGE_MANGO_API_KEY": API_KEY,
            "CALLBRIDGE_MANGO_API_SALT": API_SALT,
            "CALLBRIDGE_API_TOKEN": API_TOKEN,
            "CALLBRIDGE_MANGO_API_URL": "http://127.0.0.1:9/vpbx/",
            "CALLBRIDGE_LOG_FORMAT": "json",
        } | self.env
        with self.log_path.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "daemon.cli", "run", env=env, stdout=out, stderr=out, cwd=ROOT)
        await self._wait_listening()

    async def _wait_listening(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + DAEMON_START_TIMEOUT_S
        assert self.proc is not None
        while loop.time() < deadline:
            if self.proc.returncode is not None:
                raise AssertionError(f"daemon exited {self.proc.returncode}:\n{self.log()}")
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            writer.close()
            await writer.wait_closed()
            return
        raise AssertionError(f"daemon did not listen within {DAEMON_START_TIMEOUT_S} s:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL: no cleanup, no goodbye, as after an OOM kill or a power cut of the process."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)

    async def wait(self) -> int:
        assert self.proc is not None
        return await self.proc.wait()

    async def stop(self) -> int:
        """SIGTERM and wait; kills it if it does not stop in time."""
        if self.proc is None or self.proc.returncode is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.proc.wait(), DAEMON_STOP_TIMEOUT_S)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            raise AssertionError(f"daemon did not stop on SIGTERM:\n{self.log()}") from None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


class Sender:
    """Plays the PBX: posts each event until it gets a 200, with ``workers`` requests at a time.

    ``targets`` are daemon base URLs; event ``i`` goes to ``targets[i % len(targets)]``
    first, and a retry goes to the same daemon (the PBX has one address).
    """

    def __init__(self, targets: list[str], *, workers: int = 8, prefix: str = "/mango") -> None:
        self.targets = targets
        self.workers = workers
        self.prefix = prefix
        self.outcomes: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()  # every answer's HTTP status, retries included
        self.failed_attempts = 0
        self.acknowledged = 0
        self.slowest_s = 0.0  # the longest a single attempt waited for its answer

    async def send(self, items: Iterable[Step], *, start_index: int = 0,
                   target_of: Sequence[int] | None = None) -> None:
        """Send every item; ``target_of[i]`` picks the daemon of item ``i`` (default: round robin)."""
        queue: asyncio.Queue[tuple[int, Step]] = asyncio.Queue()
        for n, step in enumerate(items):
            queue.put_nowait((target_of[n] if target_of is not None else start_index + n, step))
        timeout = aiohttp.ClientTimeout(total=SEND_REQUEST_TIMEOUT_S)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await asyncio.gather(*(self._worker(session, queue) for _ in range(self.workers)))

    async def _worker(self, session: aiohttp.ClientSession, queue: asyncio.Queue[tuple[int, Step]]) -> None:
        while not queue.empty():
            i, step = queue.get_nowait()
            url = self.targets[i % len(self.targets)] + self.prefix + step.path
            form = signed_form(step.json)
            loop = asyncio.get_running_loop()
            while True:
                started = loop.time()
                try:
                    async with session.post(url, data=form) as resp:
                        self.statuses[resp.status] += 1
                        body = await resp.json(content_type=None) if resp.status == 200 else None
                        self.slowest_s = max(self.slowest_s, loop.time() - started)
                        if resp.status == 200:
                            self.outcomes[body.get("result", "?")] += 1
                            self.acknowledged += 1
                            break
                except (TimeoutError, aiohttp.ClientError, ValueError):
                    pass
                self.failed_attempts += 1
                await asyncio.sleep(SEND_RETRY_PAUSE_S)


def spool_records(state_dir: Path) -> int:
    """Records waiting in a daemon's spool directory, read the way the daemon reads them."""
    from daemon.intake.spool import SEGMENT_GLOB, read_records

    return sum(sum(1 for _ in read_records(p)) for p in (state_dir / "spool").glob(SEGMENT_GLOB))


async def eventually(check, *, timeout_s: float = 30.0, pause_s: float = 0.1, what: str = "condition"):  # type: ignore[no-untyped-def]
    """Poll ``await check()`` until it is truthy; fail with ``what`` after ``timeout_s``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        value = await check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(pause_s)
