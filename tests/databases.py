"""Copies of the migrated template database, made ahead of the tests and dropped behind them.

On PostgreSQL 15 a ``CREATE DATABASE … TEMPLATE`` writes the whole template (about 10 MB,
mostly the catalog) to the WAL and a ``DROP DATABASE`` forces a checkpoint: with the suite
itself loading the two cores, each took 0.3–1 s, as long as many tests. Made and dropped on
connections of their own while the tests run, they cost a test only the wait for a copy
that is not ready yet. Every test still gets a database no other test has touched.
"""

from __future__ import annotations

import asyncio
import secrets

import asyncpg
import structlog

log = structlog.get_logger(__name__)

# Copies kept ready: one for the next test and one behind it covers a test that takes
# two in a row (a second database) without letting idle copies pile up.
READY_AHEAD = 2
# Drops sent at once. Each DROP waits for a checkpoint (which fsyncs every file written since
# the last one, ~700 per copy); drops waiting together share one checkpoint instead of one each.
DROPS_AT_ONCE = 4
# What a last CREATE DATABASE may take at the end of a run (seconds; ~1 s under load).
MAKE_TIMEOUT_S = 60.0


async def drop_databases(pool: asyncpg.Pool, names: list[str]) -> None:
    """``DROP DATABASE … WITH (FORCE)`` of each, concurrently on the pool's connections."""
    await asyncio.gather(*(pool.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)') for name in names))


class DatabaseSupply:
    """``take()`` a fresh copy of ``template``; ``drop_later(name)`` when done with it."""

    def __init__(self, server_url: str, template: str, *, prefix: str, ahead: int = READY_AHEAD) -> None:
        self._server_url = server_url
        self._template = template
        self._prefix = prefix
        self._ready: asyncio.Queue[str | BaseException] = asyncio.Queue(maxsize=ahead)
        self._used: asyncio.Queue[str] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._failure: BaseException | None = None
        self._stopping = False

    def new_name(self) -> str:
        return f"{self._prefix}_{secrets.token_hex(4)}"

    async def start(self) -> None:
        maker = await asyncpg.connect(self._server_url)
        dropper = await asyncpg.create_pool(self._server_url, min_size=1, max_size=DROPS_AT_ONCE)
        self._tasks = [asyncio.create_task(self._make(maker), name="test-databases-make"),
                       asyncio.create_task(self._drop(dropper), name="test-databases-drop")]

    async def take(self) -> str:
        """The name of a database copied from the template and not given to anyone before."""
        if self._failure is not None:
            raise RuntimeError("the test databases could not be made") from self._failure
        got = await self._ready.get()
        if isinstance(got, BaseException):
            raise RuntimeError("the test databases could not be made") from got
        return got

    def drop_later(self, name: str) -> None:
        self._used.put_nowait(name)

    async def close(self) -> None:
        """Stop making and dropping; what is left is dropped with the rest of the run's databases.

        A CREATE under way is let finish: cancelled, the server would still finish it unseen,
        after the end of the run had listed what to drop, and the copy would be left behind.
        """
        self._stopping = True
        while not self._ready.empty():  # a maker waiting for room gets it, and sees the stop
            self._ready.get_nowait()
        await asyncio.wait({self._tasks[0]}, timeout=MAKE_TIMEOUT_S)  # the maker
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _make(self, conn: asyncpg.Connection) -> None:
        try:
            while not self._stopping:
                name = self.new_name()
                try:
                    await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self._template}"')
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    self._failure = exc  # every take() from now on fails with it
                    await self._ready.put(exc)  # including one already waiting
                    return
                await self._ready.put(name)
        finally:
            conn.terminate()

    async def _drop(self, pool: asyncpg.Pool) -> None:
        try:
            while True:
                names = [await self._used.get()]
                while len(names) < DROPS_AT_ONCE and not self._used.empty():
                    names.append(self._used.get_nowait())
                try:
                    await drop_databases(pool, names)
                except asyncpg.PostgresError as exc:  # left for the end of the run, which drops them all
                    log.warning("test_databases_not_dropped", databases=names, error=str(exc))
        finally:
            pool.terminate()
