"""Named, supervised background tasks.

Every task is kept, named and cancelled (then awaited) on shutdown. A task
that dies unexpectedly is logged and the daemon is asked to stop, so that
systemd restarts it instead of running on without a part of itself.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Coroutine
from typing import Any

import structlog

log = structlog.get_logger(__name__)

CANCEL_TIMEOUT_S = 5.0


class TaskGroup:
    def __init__(self, *, stop_daemon_on_crash: bool = True) -> None:
        self._tasks: dict[str, asyncio.Task[Any]] = {}
        self._stopping = False
        self._stop_on_crash = stop_daemon_on_crash

    def start(self, name: str, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        if name in self._tasks and not self._tasks[name].done():
            coro.close()
            raise RuntimeError(f"task {name!r} is already running")
        task = asyncio.create_task(coro, name=name)
        self._tasks[name] = task
        task.add_done_callback(self._on_done)
        return task

    def _on_done(self, task: asyncio.Task[Any]) -> None:
        if self._stopping or task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            log.info("task_finished", task=task.get_name())
            return
        log.error("task_crashed", task=task.get_name(), exc_info=exc)
        if self._stop_on_crash:
            # Let systemd restart a whole daemon rather than run a crippled one.
            os.kill(os.getpid(), signal.SIGTERM)

    @property
    def names(self) -> list[str]:
        return [name for name, task in self._tasks.items() if not task.done()]

    async def stop(self) -> None:
        """Cancel every task, then wait for them (bounded)."""
        self._stopping = True
        tasks = [t for t in self._tasks.values() if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            done, pending = await asyncio.wait(tasks, timeout=CANCEL_TIMEOUT_S)
            for task in pending:
                log.warning("task_did_not_stop", task=task.get_name())
        self._tasks.clear()
