"""The inbox in the app: its routes, and its sweep started with the app's other tasks."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from daemon.inbox import api
from daemon.inbox.keys import INBOX_CLOCK, INBOX_SWEEP
from daemon.inbox.sweep import InboxSweep, wall_clock
from daemon.runtime.keys import METRICS, RELOADER, REPOSITORY, TASKS

SWEEP_TASK = "inbox-sweep"


def add_inbox(app: web.Application) -> None:
    """Routes and the sweep; call after the database and task contexts are added."""
    api.add_routes(app)
    app.cleanup_ctx.append(_sweep_context)


async def _sweep_context(app: web.Application) -> AsyncIterator[None]:
    reloader = app[RELOADER]
    sweep = InboxSweep(app[REPOSITORY], settings=lambda: reloader.current, metrics=app[METRICS],
                       clock=app.get(INBOX_CLOCK, wall_clock))
    app[INBOX_SWEEP] = sweep
    # Restartable (a factory): a crash restarts the sweep, not the daemon.
    app[TASKS].start(SWEEP_TASK, sweep.run_forever)
    yield

