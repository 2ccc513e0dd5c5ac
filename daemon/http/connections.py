"""Open HTTP connections against the descriptor limit: counted, and warned about before it bites.

Each connection holds a file descriptor, and at the process's limit
(``RLIMIT_NOFILE``) accept() fails: /health and the webhooks become
unreachable with nothing in the log. Idle keep-alive connections are closed
after ``http_keepalive_timeout_s`` (aiohttp's ``keepalive_timeout``, set by
``daemon.runtime.process``); this watch logs ``connections_near_limit`` when the
open ones pass ``WARN_FRACTION`` of the limit, and keeps the
``callbridge_http_connections`` gauge current.
"""

from __future__ import annotations

import asyncio
import resource
import time

import structlog
from aiohttp import web

from daemon.runtime.metrics import Metrics

log = structlog.get_logger(__name__)

CHECK_EVERY_S = 2.0
WARN_FRACTION = 0.8
WARN_AT_MOST_EVERY_S = 60.0


def descriptor_limit() -> int:
    """This process's soft limit on open files."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


class ConnectionWatch:
    def __init__(self, server: web.Server, *, metrics: Metrics | None = None, limit: int | None = None,
                 check_every_s: float = CHECK_EVERY_S) -> None:
        self._server = server
        self._metrics = metrics
        self.limit = limit or descriptor_limit()
        self._every = check_every_s
        self._last_warning = -WARN_AT_MOST_EVERY_S

    def open_connections(self) -> int:
        return len(self._server.connections)

    def check(self) -> bool:
        """Count once; True when a warning was logged."""
        count = self.open_connections()
        if self._metrics is not None:
            self._metrics.http_connections.set(count)
        now = time.monotonic()
        if count < WARN_FRACTION * self.limit or now - self._last_warning < WARN_AT_MOST_EVERY_S:
            return False
        self._last_warning = now
        log.warning("connections_near_limit", open=count, limit=self.limit,
                    hint="raise LimitNOFILE, lower http_keepalive_timeout_s, or look for a client "
                         "holding idle connections")
        return True

    async def run(self) -> None:
        """Supervised task (``connection-watch``)."""
        while True:
            self.check()
            await asyncio.sleep(self._every)
