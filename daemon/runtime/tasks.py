"""Named, supervised background tasks.

Every task is kept, named and cancelled (then awaited) on shutdown. What
happens when one dies unexpectedly depends on how it was started:

* ``start(name, factory)`` with a callable that makes the coroutine: the task
  is restarted after a back-off (``RESTART_BACKOFF_S``, doubling up to
  ``RESTART_BACKOFF_MAX_S``), and ``/health`` says ``warn`` while a restart is
  recent. A task that crashes ``MAX_CRASHES`` times within ``CRASH_WINDOW_S``
  is beyond help: that is fatal.
* ``start(name, coroutine)``: it cannot be made again, so its crash is fatal.

Fatal means the ``on_fatal`` callback: the daemon (``daemon.runtime.process``) stops
and exits with a NON-ZERO status, so that systemd's ``Restart=on-failure``
starts a fresh process. (Stopping with a clean exit, as SIGTERM does, would
leave the service dead: systemd does not restart a clean exit.)
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import structlog

log = structlog.get_logger(__name__)

CANCEL_TIMEOUT_S = 5.0
RESTART_BACKOFF_S = 0.5
RESTART_BACKOFF_MAX_S = 30.0
MAX_CRASHES = 5
CRASH_WINDOW_S = 300.0
# A task that ran this long since its last restart is healthy again: back-off starts over.
HEALTHY_AFTER_S = 60.0
# /health warns for this long after a restart.
RECENT_RESTART_S = 900.0

Factory = Callable[[], Coroutine[Any, Any, Any]]
FatalHandler = Callable[[str, BaseException], None]
RestartHook = Callable[[str], None]


@dataclass
class TaskRecord:
    """What the supervisor knows of one named task (for /health and /metrics)."""

    name: str
    factory: Factory | None
    task: asyncio.Task[Any] | None = None
    started_at: float = 0.0
    restarts: int = 0
    crashes: deque[float] = field(default_factory=deque)
    last_error: str | None = None
    last_restart_at: float | None = None
    backoff_s: float = RESTART_BACKOFF_S
    restart_handle: asyncio.TimerHandle | None = None


async def nap(wake: asyncio.Event, seconds: float) -> None:
    """A background loop's pause: until ``wake`` is set or ``seconds`` pass; ``wake`` is cleared after.

    asyncio.timeout, not wait_for: before Python 3.12, wait_for drops a cancellation that comes as
    the event is set (CPython gh-86296), and shutdown then waited for the task (5 s, or for ever)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await wake.wait()
    wake.clear()


def _log_fatal(name: str, exc: BaseException) -> None:
    log.critical("task_failed_for_good", task=name, error=f"{type(exc).__name__}: {exc}")


class TaskGroup:
    def __init__(self, *, on_fatal: FatalHandler | None = None, backoff_s: float = RESTART_BACKOFF_S,
                 max_crashes: int = MAX_CRASHES, crash_window_s: float = CRASH_WINDOW_S,
                 on_restart: RestartHook | None = None) -> None:
        self._on_restart = on_restart
        self._records: dict[str, TaskRecord] = {}
        self._stopping = False
        self.on_fatal: FatalHandler = on_fatal or _log_fatal
        self._backoff_s = backoff_s
        self._max_crashes = max_crashes
        self._crash_window_s = crash_window_s
        self.failed: str | None = None  # the task whose crash was fatal

    def start(self, name: str,
              work: Coroutine[Any, Any, Any] | Factory) -> asyncio.Task[Any]:
        """Run ``work`` as the task ``name``; a factory makes it restartable (see the module doc)."""
        current = self._records.get(name)
        if current is not None and current.task is not None and not current.task.done():
            if asyncio.iscoroutine(work):
                work.close()
            raise RuntimeError(f"task {name!r} is already running")
        if asyncio.iscoroutine(work):
            record = TaskRecord(name=name, factory=None)
            coro = work
        else:
            record = TaskRecord(name=name, factory=work)
            coro = work()
        self._records[name] = record
        return self._launch(record, coro)

    def _launch(self, record: TaskRecord, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=record.name)
        record.task = task
        record.started_at = time.monotonic()
        task.add_done_callback(lambda t: self._on_done(record, t))
        return task

    def _on_done(self, record: TaskRecord, task: asyncio.Task[Any]) -> None:
        if self._stopping or task.cancelled() or record.task is not task:
            return
        exc = task.exception()
        if exc is None:
            log.info("task_finished", task=record.name)
            return
        now = time.monotonic()
        record.last_error = f"{type(exc).__name__}: {exc}"[:300]
        record.crashes.append(now)
        while record.crashes and now - record.crashes[0] > self._crash_window_s:
            record.crashes.popleft()
        if now - record.started_at >= HEALTHY_AFTER_S:
            record.backoff_s = self._backoff_s
        log.error("task_crashed", task=record.name, crashes_in_window=len(record.crashes),
                  restartable=record.factory is not None, exc_info=exc)
        if record.factory is None or len(record.crashes) >= self._max_crashes:
            self.failed = record.name
            self.on_fatal(record.name, exc)
            return
        delay = record.backoff_s
        record.backoff_s = min(record.backoff_s * 2, RESTART_BACKOFF_MAX_S)
        log.warning("task_restart_scheduled", task=record.name, retry_in_s=delay)
        record.restart_handle = asyncio.get_running_loop().call_later(delay, self._restart, record)

    def _restart(self, record: TaskRecord) -> None:
        record.restart_handle = None
        if self._stopping or record.factory is None:
            return
        record.restarts += 1
        record.last_restart_at = time.monotonic()
        log.warning("task_restarted", task=record.name, restarts=record.restarts)
        if self._on_restart is not None:
            self._on_restart(record.name)
        try:
            coro = record.factory()
        except Exception as exc:  # noqa: BLE001 - it cannot even be made again: that is fatal
            self.failed = record.name
            self.on_fatal(record.name, exc)
            return
        self._launch(record, coro)

    async def cancel(self, name: str) -> None:
        """Stop the task ``name`` for good (a reload took its reason away); a no-op when absent."""
        record = self._records.pop(name, None)
        if record is None:
            return
        if record.restart_handle is not None:
            record.restart_handle.cancel()
        if record.task is not None and not record.task.done():
            record.task.cancel()
            _, pending = await asyncio.wait({record.task}, timeout=CANCEL_TIMEOUT_S)
            if pending:
                log.warning("task_did_not_stop", task=name)

    # -- what /health and /metrics show --------------------------------------------
    @property
    def names(self) -> list[str]:
        return [name for name, r in self._records.items() if r.task is not None and not r.task.done()]

    def records(self) -> list[TaskRecord]:
        return list(self._records.values())

    def recently_restarted(self, within_s: float = RECENT_RESTART_S) -> list[TaskRecord]:
        """Tasks that crashed and were restarted (or wait to be) within ``within_s``."""
        now = time.monotonic()
        return [r for r in self._records.values()
                if r.restart_handle is not None
                or (r.last_restart_at is not None and now - r.last_restart_at <= within_s)]

    async def stop(self) -> None:
        """Cancel every task, then wait for them (bounded)."""
        self._stopping = True
        for record in self._records.values():
            if record.restart_handle is not None:
                record.restart_handle.cancel()
        tasks = [r.task for r in self._records.values() if r.task is not None and not r.task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=CANCEL_TIMEOUT_S)
            for task in pending:
                log.warning("task_did_not_stop", task=task.get_name())
        self._records.clear()
