"""LISTEN callbridge_calls (and callbridge_inbox) on one dedicated connection, for as long as the daemon runs.

The trigger of migration 0003 announces every change of a communication on
that channel, whichever daemon stored the event, so this is how a manager
connected to one daemon hears about a call taken by another. The connection
is not from the pool: a pooled connection would be handed to other work and
its LISTEN lost. When it drops, the loop reconnects with back-off and asks for
a resync, since notifications sent meanwhile are gone for good.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
import structlog

from daemon.store.database import CONNECT_TIMEOUT_S, UNAVAILABLE_ERRORS

log = structlog.get_logger(__name__)

CHANNEL = "callbridge_calls"
INBOX_CHANNEL = "callbridge_inbox"  # migration 0021: the inbox changed, an item is overdue
APPLICATION_NAME = "callbridge-screen-listener"
RECONNECT_BACKOFF_S = 0.5
RECONNECT_BACKOFF_MAX_S = 10.0
# asyncpg notices a connection the server closed at once, but a silent network
# only when it next reads, so the idle connection is probed this often.
PROBE_INTERVAL_S = 10.0
PROBE_TIMEOUT_S = 5.0


class CallListener:
    def __init__(self, url: str, *, on_call: Callable[[str], None],
                 on_status: Callable[[bool], None], on_inbox: Callable[[str], None] | None = None) -> None:
        self._url = url
        self._on_call = on_call
        self._on_inbox = on_inbox
        self._on_status = on_status
        self._ready = asyncio.Event()

    @property
    def listening(self) -> bool:
        return self._ready.is_set()

    async def wait_listening(self, timeout_s: float) -> bool:
        try:
            await asyncio.wait_for(self._ready.wait(), timeout=timeout_s)
        except TimeoutError:
            return False
        return True

    async def run_forever(self) -> None:
        """Supervised task: connect, LISTEN, wait for the connection to end, again."""
        delay = RECONNECT_BACKOFF_S
        while True:
            try:
                conn = await asyncpg.connect(self._url, timeout=CONNECT_TIMEOUT_S,
                                             server_settings={"application_name": APPLICATION_NAME})
            except (*UNAVAILABLE_ERRORS, asyncpg.PostgresError) as exc:
                log.warning("screen_listener_connect_failed", error=repr(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RECONNECT_BACKOFF_MAX_S)
                continue
            delay = RECONNECT_BACKOFF_S
            try:
                await self._listen(conn)
            except (*UNAVAILABLE_ERRORS, asyncpg.PostgresError) as exc:
                log.warning("screen_listener_lost", error=repr(exc))
            finally:
                self._set_listening(False)
                conn.terminate()

    async def _listen(self, conn: asyncpg.Connection) -> None:
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        await conn.add_listener(CHANNEL, self._notified)
        if self._on_inbox is not None:
            await conn.add_listener(INBOX_CHANNEL, self._inbox_notified)
        log.info("screen_listening", channel=CHANNEL)
        self._set_listening(True)
        while not lost.is_set():
            # asyncio.timeout, not wait_for: wait_for can drop a cancellation that comes as what
            # it waits for completes (CPython gh-86296 before 3.12): shutdown then waited for us.
            try:
                async with asyncio.timeout(PROBE_INTERVAL_S):
                    await lost.wait()
            except TimeoutError:
                async with asyncio.timeout(PROBE_TIMEOUT_S):
                    await conn.fetchval("SELECT 1")
        log.warning("screen_listener_lost", error="connection closed")

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        self._on_call(payload)

    def _inbox_notified(self, _conn: object, _pid: int, _channel: str, payload: str) -> None:
        if self._on_inbox is not None:
            self._on_inbox(payload)

    def _set_listening(self, value: bool) -> None:
        if value == self._ready.is_set():
            return
        if value:
            self._ready.set()
        else:
            self._ready.clear()
        self._on_status(value)
