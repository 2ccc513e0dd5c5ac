"""The daemon's life under systemd: start, serve, reload, stop.

* Start: the app's cleanup contexts open the spool (locked: one process per
  spool) and try the database pool, then the HTTP server listens.
  ``READY=1`` means "events are kept": with a spool that is true as soon as
  the port listens, even while PostgreSQL is away (it is then connected in the
  background, ``daemon.runtime.connect``, and /health says warn). Without a spool,
  READY waits for PostgreSQL (``db_connect_attempts`` tries); if it never
  answers, the start fails with one clear error and a non-zero exit, and
  systemd's ``Restart=on-failure`` tries again later.
* Run: ``WATCHDOG=1`` is sent from a task on the event loop at half of
  ``WatchdogSec``, so a hung loop stops the pings and systemd restarts the
  daemon. It depends on nothing else: a database outage is for /health to
  report, never a reason to be killed.
* SIGHUP: the settings are read again and handed to the reload hooks
  (``daemon.runtime.reload``) between requests; the server keeps listening.
* SIGTERM/SIGINT: ``STOPPING=1``, stop accepting connections, give requests in
  flight up to ``SHUTDOWN_GRACE_S`` to finish, stop the background tasks, close
  the pool and the spool, exit 0. All of it fits in ``STOP_BUDGET_S``, below
  the unit's ``TimeoutStopSec``.
* A background task that fails for good (``daemon.runtime.tasks``): the same stop, but
  the exit status is ``EXIT_TASK_FAILED``, so systemd restarts the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog
import uvloop
from aiohttp import web

from config.settings import Settings, load_settings, setting_source
from daemon.domain.errors import CallbridgeError
from daemon.http.connections import ConnectionWatch
from daemon.runtime.app import SHUTDOWN_GRACE_S, build_app
from daemon.runtime.keys import METRICS, RELOADER, REPOSITORY, SPOOL, TASKS
from daemon.runtime.sdnotify import SdNotifier

log = structlog.get_logger(__name__)

T = TypeVar("T")
# Grace for requests in flight, plus cancelling tasks (tasks.CANCEL_TIMEOUT_S)
# and closing the pool: the unit's TimeoutStopSec (20 s) must stay above it.
STOP_BUDGET_S = SHUTDOWN_GRACE_S + 7.0
STARTUP_PROBE_TIMEOUT_S = 5.0
# Connections the kernel may hold for us before we accept them (asyncio's default is
# 100). A PBX redelivering a backlog, or a burst past what the daemon sustains, opens
# hundreds at once; past the queue the kernel drops their handshakes and the senders
# see resets (bench/sidebyside at 1,500 events/s). Capped by net.core.somaxconn.
LISTEN_BACKLOG = 1024
EXIT_STOP_TIMED_OUT = 1
EXIT_TASK_FAILED = 3  # non-zero: Restart=on-failure starts a fresh process


def screen_url(settings: Settings) -> str:
    """The manager's screen as a browser on this machine opens it (a wildcard host is this machine)."""
    host = settings.http.listen_host
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings.http.listen_port}/ui/"


class Daemon:
    """One run of the daemon: ``await Daemon(...).serve()`` returns the exit code."""

    def __init__(
        self,
        settings: Settings,
        *,
        database_url: str,
        notifier: SdNotifier,
        reload_settings: Callable[[], Settings] = load_settings,
    ) -> None:
        self.settings = settings
        self.notifier = notifier
        self.app = build_app(settings, database_url=database_url)
        self._reload_settings = reload_settings
        self._stop = asyncio.Event()
        self._ready = False
        self._reload_task: asyncio.Task[None] | None = None
        self._reload_again = False
        self._watchdog_task: asyncio.Task[None] | None = None
        self._failed_task: str | None = None

    async def serve(self) -> int:
        runner = web.AppRunner(
            self.app, handle_signals=False, access_log=None, shutdown_timeout=SHUTDOWN_GRACE_S,
            # Idle keep-alive sockets hold descriptors: close them (aiohttp's default is an hour).
            keepalive_timeout=self.settings.http.keepalive_timeout_s,
        )
        self._install_signal_handlers()
        try:
            if await self._start(runner):  # False: asked to stop before we were ready
                await self._stop.wait()
        finally:
            stopped_in_time = await self._shutdown(runner)
        if self._failed_task is not None:
            log.error("exiting_after_task_failure", task=self._failed_task, exit_status=EXIT_TASK_FAILED)
            return EXIT_TASK_FAILED
        return 0 if stopped_in_time else EXIT_STOP_TIMED_OUT

    # -- start -------------------------------------------------------------------
    async def _start(self, runner: web.AppRunner) -> bool:
        self.notifier.status("connecting to PostgreSQL")
        try:
            if not await self._unless_stopped(runner.setup()):
                return False
            tasks = self.app[TASKS]
            tasks.on_fatal = self._task_failed
            if tasks.failed is not None:  # failed for good while the contexts were still starting
                self._task_failed(tasks.failed, RuntimeError("failed while starting"))
            site = web.TCPSite(runner, self.settings.http.listen_host, self.settings.http.listen_port,
                               backlog=LISTEN_BACKLOG)
            await site.start()
            if runner.server is not None:
                watch = ConnectionWatch(runner.server, metrics=self.app[METRICS])
                self.app[TASKS].start("connection-watch", watch.run)
            database = await self._database_at_start()
        except (CallbridgeError, OSError, TimeoutError) as exc:
            log.error("start_failed", error=f"{exc.__class__.__name__}: {exc}")
            self.notifier.status(f"start failed: {exc.__class__.__name__}")
            raise
        # The one line a first `make run` waits for: where to open the screen, where its token is.
        log.info(
            "listening", listen=self.settings.http.listen, webhook_prefix=self.settings.mango.prefix,
            screen=screen_url(self.settings), token_set_in=setting_source("api_token"),
        )
        self._ready = True
        self.notifier.ready(f"listening on {self.settings.http.listen}" + (
            "" if database else "; PostgreSQL not connected yet, events are spooled"))
        if self.notifier.watchdog_interval_s:
            self._watchdog_task = asyncio.get_running_loop().create_task(
                self._feed_watchdog(self.notifier.watchdog_interval_s), name="sd-watchdog"
            )
        return True

    async def _database_at_start(self) -> bool:
        """Whether PostgreSQL answers now. Without a spool it must (else the start fails);
        with one, events are kept either way, so READY=1 does not wait for it."""
        repo = self.app[REPOSITORY]
        try:
            # The pool proved itself while opening; ask once more now that we listen.
            await asyncio.wait_for(repo.ping(), timeout=STARTUP_PROBE_TIMEOUT_S)
        except (CallbridgeError, OSError, TimeoutError) as exc:
            if self.app.get(SPOOL) is None:
                raise
            log.warning("listening_without_database", error=f"{exc.__class__.__name__}: {exc}",
                        spool=str(self.app[SPOOL].directory))
            return False
        return True

    def _task_failed(self, name: str, exc: BaseException) -> None:
        """A background task is beyond restarting: stop, and exit non-zero (``serve``)."""
        log.critical("task_failed_for_good", task=name, error=f"{type(exc).__name__}: {exc}")
        self._failed_task = self._failed_task or name
        self.notifier.status(f"stopping: background task {name} failed")
        self._request_stop(f"task {name} failed")

    async def _unless_stopped(self, work: Awaitable[T]) -> bool:
        """Run ``work`` unless SIGTERM comes first; then cancel it. True when it completed."""
        task = asyncio.ensure_future(work)
        stop_waiter = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({task, stop_waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop_waiter.cancel()
        if task.done():
            task.result()
            return True
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        log.info("start_abandoned", reason="stop requested while starting")
        return False

    async def _feed_watchdog(self, interval_s: float) -> None:
        """Liveness: this loop runs, so the daemon is alive. Nothing else is asked."""
        while True:
            self.notifier.watchdog()
            await asyncio.sleep(interval_s)

    # -- signals -------------------------------------------------------------
    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self._request_stop, "SIGTERM")
        loop.add_signal_handler(signal.SIGINT, self._request_stop, "SIGINT")
        loop.add_signal_handler(signal.SIGHUP, self._request_reload)

    def _remove_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)

    def _request_stop(self, name: str) -> None:
        if not self._stop.is_set():
            log.info("stop_requested", signal=name)
        self._stop.set()

    def _request_reload(self) -> None:
        if self._reload_task is not None and not self._reload_task.done():
            self._reload_again = True  # one more pass after this one, for edits made meanwhile
            return
        self._reload_task = asyncio.get_running_loop().create_task(
            self._reload(), name="settings-reload"
        )

    async def _reload(self) -> None:
        while True:
            self._reload_again = False
            log.info("reload_requested", signal="SIGHUP")
            self.notifier.reloading()
            result = await self.app[RELOADER].reload(self._reload_settings)
            if self._ready and not self._stop.is_set():
                # READY=1 ends the reload for systemd, whether or not the file was good.
                self.notifier.ready(
                    f"listening on {self.settings.http.listen}"
                    + ("" if result.ok else "; last reload failed, see the journal")
                )
            if not self._reload_again:
                return

    # -- stop ----------------------------------------------------------------
    async def _shutdown(self, runner: web.AppRunner) -> bool:
        """Everything closed; False when that took longer than STOP_BUDGET_S."""
        self._stop.set()
        self.notifier.stopping()
        for task in (self._watchdog_task, self._reload_task):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        in_time = True
        try:
            # Stops listening, waits up to SHUTDOWN_GRACE_S for requests in
            # flight, then runs the cleanup contexts (tasks, pool, spool).
            await asyncio.wait_for(runner.cleanup(), timeout=STOP_BUDGET_S)
        except TimeoutError:
            log.error("stop_timed_out", budget_s=STOP_BUDGET_S)
            in_time = False
        finally:
            self._remove_signal_handlers()
            self.notifier.close()
        log.info("stopped")
        return in_time


def run(settings: Settings, *, database_url: str, notifier: SdNotifier | None = None) -> int:
    """Serve until SIGTERM/SIGINT; the exit code for the ``run`` command."""
    notifier = notifier or SdNotifier.from_environ()

    async def main() -> int:
        return await Daemon(settings, database_url=database_url, notifier=notifier).serve()

    # uvloop: about 13 % less daemon CPU per webhook than asyncio's own loop (docs/BENCHMARKS.md).
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main())
