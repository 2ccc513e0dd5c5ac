"""``GET /ws?extension=105``: one manager's live screen, over aiohttp's own WebSocket.

Authentication. Browsers cannot set ``Authorization`` on a WebSocket, and a
token in the URL ends up in proxies' access logs, so a browser sends the token
in its first message, ``{"type": "auth", "token": "..."}``, within
AUTH_TIMEOUT_S. Other clients may instead send ``Authorization: Bearer ...``
with the upgrade request. The token is the shared CALLBRIDGE_API_TOKEN, the
one the page also needs for /api/*. A wrong token closes the socket with code
4401 (a wrong header is refused with 401 before the upgrade).

Messages from the daemon: ``hello`` (once authenticated: the extension, its
manager, the office's time zone, ``live``), ``status`` (``live`` changed: this
daemon lost or regained PostgreSQL's notifications), ``card`` (a caller card),
``inbox`` (the manager's «Обращения» list, on every change) and ``overdue`` (an item
of his, or any for the administrator, passed its due time or was escalated).
"""

from __future__ import annotations

import json
import re

import structlog
from aiohttp import WSMsgType, web

from daemon.domain.errors import StorageError, StorageUnavailable
from daemon.http.auth import bearer_matches, token_matches
from daemon.http.boundary import json_response
from daemon.http.security import DETACH_LIMITS
from daemon.runtime.keys import RELOADER, REPOSITORY, SETTINGS
from daemon.screen.hub import CLOSE_TIMEOUT_S, Screen
from daemon.screen.keys import SCREEN_AUTH_GATE, SCREEN_HUB, SCREEN_INBOX, SCREEN_LISTENER

log = structlog.get_logger(__name__)

EXTENSION = re.compile(r"^[0-9A-Za-z_-]{1,32}$")
AUTH_TIMEOUT_S = 10.0
HEARTBEAT_S = 25.0
# The page sends nothing but its token; anything bigger is not ours.
MAX_MESSAGE_BYTES = 4096
# How long a new screen waits for this daemon's LISTEN to be up, so that a
# hello means "from now on you will see every call".
LISTEN_WAIT_S = 5.0
CLOSE_UNAUTHORIZED = 4401


async def _first_message_token(ws: web.WebSocketResponse) -> str:
    try:
        msg = await ws.receive(timeout=AUTH_TIMEOUT_S)
    except TimeoutError:
        return ""
    if msg.type != WSMsgType.TEXT:
        return ""
    try:
        data = json.loads(msg.data)
    except (ValueError, RecursionError):  # 4 KiB of "[" is valid-looking and too deep
        return ""
    token = data.get("token") if isinstance(data, dict) and data.get("type") == "auth" else None
    return token if isinstance(token, str) else ""


async def screen_socket(request: web.Request) -> web.StreamResponse:
    extension = request.query.get("extension", "").strip()
    if not EXTENSION.match(extension):
        return json_response({"error": "extension=<the manager's extension, e.g. 105> is required"},
                                 status=400)
    expected = request.app[SETTINGS].secret("api_token")
    header = request.headers.get("Authorization")
    if header is not None and not bearer_matches(header, expected):
        return json_response({"error": "missing or wrong bearer token"}, status=401)
    gate = request.app[SCREEN_AUTH_GATE]
    if header is None and not gate.enter():
        log.warning("screen_refused_busy", waiting_for_token=gate.waiting)
        return json_response({"error": "too many screens waiting to authenticate, retry later"},
                                 status=503, headers={"Retry-After": "1"})
    try:
        ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=MAX_MESSAGE_BYTES,
                                   timeout=CLOSE_TIMEOUT_S)
        await ws.prepare(request)
        # Upgraded: from here the socket lives by its own rules (the gate, the auth
        # timeout, the heartbeat), not by the request cap and timeout.
        detach = request.get(DETACH_LIMITS)
        if detach is not None:
            detach()
        authorized = header is not None or token_matches(await _first_message_token(ws), expected)
    finally:
        if header is None:
            gate.leave()
    if not authorized:
        log.info("screen_unauthorized", extension=extension)
        await ws.close(code=CLOSE_UNAUTHORIZED, message=b"missing or wrong token")
        return ws
    await _serve(request, ws, extension)
    return ws


async def _serve(request: web.Request, ws: web.WebSocketResponse, extension: str) -> None:
    hub = request.app[SCREEN_HUB]
    listening = await request.app[SCREEN_LISTENER].wait_listening(LISTEN_WAIT_S)
    screen = Screen(ws, extension)
    if not await screen.send(await _hello(request, extension, listening)):
        return
    hub.add(screen)
    request.app[SCREEN_INBOX].screen_added(screen)  # on shift, and its «Обращения» list
    try:
        try:
            await hub.resync([screen])
        except (StorageUnavailable, StorageError) as exc:
            log.warning("screen_resync_failed", extension=extension, error=str(exc))
        async for msg in ws:
            if msg.type == WSMsgType.ERROR:
                break  # the page sends nothing after auth; anything else is ignored
    finally:
        hub.remove(screen)


async def _hello(request: web.Request, extension: str, listening: bool) -> dict[str, object]:
    settings = request.app[RELOADER].current  # the office's time zone may be reloaded
    try:
        manager = await request.app[REPOSITORY].screen_manager(extension)
    except (StorageUnavailable, StorageError):
        manager = None
    return {
        "type": "hello",
        "extension": extension,
        "manager": {"name": manager["name"], "active": manager["active"]} if manager else None,
        "timezone": settings.timezone,
        "live": listening,
    }
