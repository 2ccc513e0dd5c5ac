"""The manager's screen: a live caller card on an incoming call, notes, missed callers.

- ``/ws?extension=N`` (``ws.py``): cards pushed as a call rings at, is answered
  by, ends at or is missed by that extension.
- Cards are built from PostgreSQL state only (``cards.py``, ``phase.py``) when
  PostgreSQL announces that a call changed (``listener.py``: LISTEN on the
  channel that migration 0003's trigger NOTIFYs), so a manager connected to
  one daemon sees calls whose events reached another.
- ``/api/...`` for notes, a new caller's name and the missed list (``api.py``).
- The inbox («Обращения», ``inboxfeed.py``): each screen's list and overdue alerts,
  pushed when PostgreSQL announces a change of the queue (``callbridge_inbox``),
  and the screens signed in here, kept in ``screen_presence`` (on shift).
- ``/ui/``: the page itself, plain static files (``static/``).

May import: ``daemon.domain``, ``daemon.store``, ``daemon.calls`` (a call's state), ``daemon.inquiries``
(the wish step of a call note), ``daemon.wishes``, ``daemon.inbox`` (its lists and presence),
``daemon.http`` and ``daemon.runtime`` (keys).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from daemon.runtime.keys import RELOADER, REPOSITORY, SETTINGS, TASKS
from daemon.screen.api import ScreenApi
from daemon.screen.gate import AuthGate
from daemon.screen.hub import ScreenHub
from daemon.screen.inboxfeed import InboxFeed
from daemon.screen.keys import SCREEN_AUTH_GATE, SCREEN_HUB, SCREEN_INBOX, SCREEN_LISTENER
from daemon.screen.listener import CallListener
from daemon.screen.ws import screen_socket

STATIC_DIR = Path(__file__).parent / "static"


def add_screen(app: web.Application, *, database_url: str) -> None:
    """Routes and resources of the screen; call after the database and task contexts are added."""
    app[SCREEN_AUTH_GATE] = AuthGate()
    app.cleanup_ctx.append(_screen_context(database_url))
    app.on_shutdown.append(_close_screens)
    app.router.add_get("/ws", screen_socket)
    ScreenApi().add_routes(app)
    app.router.add_get("/ui", _to_page)
    app.router.add_get("/ui/", _page)
    app.router.add_get("/ui/{name}", _static_file)
    # Browsers ask for /favicon.ico whatever the page says (a bookmark, the API's JSON in a tab).
    app.router.add_get("/favicon.ico", _favicon)


def _screen_context(database_url: str):
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        hub = ScreenHub(app[REPOSITORY], region=app[SETTINGS].default_region)
        reloader = app[RELOADER]
        feed = InboxFeed(app[REPOSITORY], hub,
                         administrator=lambda: reloader.current.routing.administrator_extension)

        def status(listening: bool) -> None:
            hub.listening_changed(listening)
            feed.listening_changed(listening)

        listener = CallListener(database_url, on_call=hub.call_changed, on_status=status, on_inbox=feed.changed)
        app[SCREEN_HUB] = hub
        app[SCREEN_INBOX] = feed
        app[SCREEN_LISTENER] = listener
        # Stopped with the rest of app[TASKS], before the pool closes.
        app[TASKS].start("screen-listener", listener.run_forever())
        app[TASKS].start("screen-pusher", hub.run())
        app[TASKS].start("screen-inbox", feed.run)
        yield

    return ctx


async def _close_screens(app: web.Application) -> None:
    """Open WebSockets would hold a graceful shutdown for its whole grace period."""
    hub = app.get(SCREEN_HUB)
    if hub is not None:
        await hub.close_all()
    feed = app.get(SCREEN_INBOX)
    if feed is not None:
        await feed.forget()


async def _to_page(request: web.Request) -> web.StreamResponse:
    raise web.HTTPPermanentRedirect("/ui/")


async def _page(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC_DIR / "index.html")


# The page's files, listed once: a request names one of them or gets a 404, so a
# name of 300 bytes, a NUL or a "../" never reaches the file system (a name over
# 255 bytes made the OS refuse the lookup: a 500 whose log named the install path).
STATIC_FILES = frozenset(p.name for p in STATIC_DIR.iterdir() if p.is_file())


async def _favicon(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC_DIR / "favicon.svg", headers={"Content-Type": "image/svg+xml"})


async def _static_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in STATIC_FILES:
        raise web.HTTPNotFound()
    return web.FileResponse(STATIC_DIR / name)
