"""A lean HTTP/1.1 load generator on asyncio protocols: closed loop and open loop.

It shares two cores with the daemon and PostgreSQL, so it does as little as
it can per request: the requests are built and signed before the clock starts,
each is written as one pre-made byte string, and a response is parsed only as
far as its status, Content-Length and short JSON body.

Open loop: request i is due at ``start + i / rate`` whatever happened to the
earlier ones, and its latency is timed from that due time, so a daemon that
falls behind shows the queueing in the tails (no coordinated omission). A
request that finds no free connection opens another, up to ``max_connections``;
past that it waits in the client, and the wait is counted too.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

REQUEST_TIMEOUT_S = 30.0
# A connection left idle this long is closed by the client rather than reused, as
# HTTP clients do, below the servers' own keep-alive timeouts (callbridge's default
# is 15 s, aiohttp's 75 s): reusing one the server is closing at that moment loses
# the request (the connection closes under it), which measures the race, not the server.
CLIENT_IDLE_S = 10.0
DRAIN_TIMEOUT_S = 30.0
TICK_S = 0.0005


@dataclass
class Results:
    """What one phase measured; latencies in seconds, in completion order."""

    offered: int = 0
    latencies: list[float] = field(default_factory=list)
    acked: list[int] = field(default_factory=list)  # indices of the requests answered 200
    statuses: collections.Counter = field(default_factory=collections.Counter)
    outcomes: collections.Counter = field(default_factory=collections.Counter)
    errors: collections.Counter = field(default_factory=collections.Counter)
    started: float = 0.0
    last_done: float = 0.0
    sent_all_at: float = 0.0
    connections: int = 0
    completed_in_window: int = 0
    window_s: float = 0.0

    @property
    def ok(self) -> int:
        return self.statuses.get(200, 0)

    @property
    def failed(self) -> int:
        return self.offered - self.ok


class _Conn(asyncio.Protocol):
    def __init__(self, client: _Client) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.pending: tuple[int, float] | None = None  # (request index, time it counts from)
        self.idle_since = 0.0

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport

    def send(self, index: int, counted_from: float) -> None:
        self.pending = (index, counted_from)
        self.transport.write(self.client.bodies[index])  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buf[:end]).lower()
        length = 0
        at = head.find(b"content-length:")
        if at >= 0:
            eol = head.find(b"\r\n", at)
            length = int(head[at + 15:eol if eol >= 0 else len(head)])
        if len(self.buf) < end + 4 + length:
            return
        status = int(head[9:12])
        body = bytes(self.buf[end + 4:end + 4 + length])
        del self.buf[:end + 4 + length]
        pending, self.pending = self.pending, None
        if pending is not None:
            self.client.done(self, pending, status, body)

    def connection_lost(self, exc) -> None:
        self.transport = None
        pending, self.pending = self.pending, None
        self.client.lost(self, pending, exc)


class _Client:
    def __init__(self, bodies: Sequence[bytes], *, host: str, port: int, max_connections: int,
                 results: Results) -> None:
        self.bodies = bodies
        self.host, self.port = host, port
        self.max_connections = max_connections
        self.results = results
        self.idle: list[_Conn] = []
        self.all: set[_Conn] = set()
        self.opening = 0
        self.backlog: collections.deque[tuple[int, float]] = collections.deque()
        self.outstanding = 0
        self.on_free: Callable[[_Conn], None] | None = None
        self.stopped = False
        self.drained = asyncio.Event()

    # -- connections ------------------------------------------------------
    async def _open(self) -> None:
        self.opening += 1
        try:
            _, conn = await asyncio.get_running_loop().create_connection(
                lambda: _Conn(self), self.host, self.port)
        except OSError as exc:
            self.opening -= 1
            self.results.errors[f"connect:{type(exc).__name__}"] += 1
            return
        self.opening -= 1
        self.all.add(conn)
        self.results.connections = max(self.results.connections, len(self.all))
        self.free(conn)

    def open_more(self) -> None:
        if len(self.all) + self.opening < self.max_connections:
            asyncio.get_running_loop().create_task(self._open())

    def free(self, conn: _Conn) -> None:
        if self.backlog:
            conn.send(*self.backlog.popleft())
        elif self.on_free is not None and not self.stopped:
            self.on_free(conn)
        else:
            conn.idle_since = time.perf_counter()
            self.idle.append(conn)

    def _reusable(self) -> _Conn | None:
        now = time.perf_counter()
        while self.idle:
            conn = self.idle.pop()
            if now - conn.idle_since < CLIENT_IDLE_S and conn.transport is not None:
                return conn
            self.all.discard(conn)
            if conn.transport is not None:
                conn.transport.close()
        return None

    def submit(self, index: int, due: float) -> None:
        self.outstanding += 1
        self.results.offered += 1
        conn = self._reusable()
        if conn is not None:
            conn.send(index, due)
        else:
            self.backlog.append((index, due))
            self.open_more()

    # -- answers ------------------------------------------------------------
    def done(self, conn: _Conn, pending: tuple[int, float], status: int, body: bytes) -> None:
        now = time.perf_counter()
        r = self.results
        r.latencies.append(now - pending[1])
        r.statuses[status] += 1
        r.last_done = now
        if status == 200:
            r.acked.append(pending[0])
            # {"result": "stored"} and friends: the outcome is the last quoted word
            # (a sender answered with an empty body, as MAX and Telegram are, has none).
            parts = body.rsplit(b'"', 2)
            r.outcomes[parts[-2].decode("ascii", "replace") if len(parts) == 3 else "-"] += 1
        self._finished()
        self.free(conn)

    def lost(self, conn: _Conn, pending: tuple[int, float] | None, exc) -> None:
        self.all.discard(conn)
        if conn in self.idle:
            self.idle.remove(conn)
        if pending is not None:
            self.results.errors[f"lost:{type(exc).__name__ if exc else 'closed'}"] += 1
            self._finished()
        if self.backlog and not self.stopped:
            self.open_more()

    def _finished(self) -> None:
        self.outstanding -= 1
        if self.stopped and self.outstanding == 0:
            self.drained.set()

    async def finish(self) -> None:
        self.stopped = True
        if self.outstanding == 0:
            self.drained.set()
        try:
            await asyncio.wait_for(self.drained.wait(), timeout=DRAIN_TIMEOUT_S)
        except TimeoutError:
            self.results.errors["drain_timeout"] += self.outstanding
        for conn in list(self.all):
            if conn.transport is not None:
                conn.transport.close()
        await asyncio.sleep(0)


async def open_loop(bodies: Sequence[bytes], *, rate: float, duration_s: float, host: str, port: int,
                    max_connections: int = 1024, warm_connections: int = 16) -> Results:
    """Send ``rate`` requests per second for ``duration_s`` (at most len(bodies)); time from due times."""
    count = min(len(bodies), int(rate * duration_s))
    results = Results()
    client = _Client(bodies, host=host, port=port, max_connections=max_connections, results=results)
    for _ in range(min(warm_connections, max_connections)):
        await client._open()
    interval = 1.0 / rate
    start = time.perf_counter() + 0.01
    results.started = start
    i = 0
    while i < count:
        now = time.perf_counter()
        while i < count and start + i * interval <= now:
            client.submit(i, start + i * interval)
            i += 1
        if i < count:
            await asyncio.sleep(max(0.0, min(TICK_S, start + i * interval - time.perf_counter())))
    results.sent_all_at = time.perf_counter()
    await client.finish()
    _window(results, start, start + duration_s)
    return results


async def closed_loop(bodies: Sequence[bytes], *, concurrency: int, duration_s: float, host: str,
                      port: int) -> Results:
    """``concurrency`` connections, each sending the next request as soon as it has its answer."""
    results = Results()
    client = _Client(bodies, host=host, port=port, max_connections=concurrency, results=results)
    for _ in range(concurrency):
        await client._open()
    next_index = 0
    deadline = 0.0

    def feed(conn: _Conn) -> None:
        nonlocal next_index
        now = time.perf_counter()
        if next_index >= len(bodies) or now >= deadline:
            client.stopped = True
            client.idle.append(conn)
            if client.outstanding == 0:
                client.drained.set()
            return
        client.outstanding += 1
        results.offered += 1
        conn.send(next_index, now)
        next_index += 1

    start = time.perf_counter()
    deadline = start + duration_s
    results.started = start
    client.on_free = feed
    for conn in list(client.idle):
        client.idle.remove(conn)
        feed(conn)
    while not client.stopped and time.perf_counter() < deadline + REQUEST_TIMEOUT_S:
        await asyncio.sleep(0.05)
    results.sent_all_at = time.perf_counter()
    await client.finish()
    _window(results, start, min(deadline, results.last_done or deadline))
    return results


def _window(results: Results, start: float, end: float) -> None:
    results.window_s = max(1e-9, end - start)
    results.completed_in_window = results.ok
