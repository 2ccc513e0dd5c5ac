"""Who may post PBX events, and how much any client may ask of the daemon at once.

Two aiohttp middlewares:

- ``request_limits``: at most ``max_concurrent_requests`` requests are handled
  at a time (the rest get 503 at once, so a flood costs no memory) and none
  runs longer than ``request_timeout_s`` (503: the PBX retries, and a webhook
  that was stored before the timeout is a harmless duplicate then). Overload
  of the database is the intake's business (it spools past ``max_in_flight``);
  this cap is far above that one and guards the process itself. A WebSocket
  (the manager's screen) is long-lived by design: it counts until it is
  upgraded, and ws.py caps the sockets still waiting for their token.
- ``source_allowlist``: requests under the webhook prefix must come from
  ``pbx_allowed_networks`` (empty: from anywhere; the signature is checked
  anyway). Behind a reverse proxy the peer is the proxy, so the client's
  address is taken from ``X-Forwarded-For``, but only when the peer is one of
  ``trusted_proxies``; anyone else could write that header.

aiohttp's own limits stay on: a body over the webhook limit is refused before
it is read whole (``client_max_size``), a request line or header over 8190
bytes and more than 128 headers are refused by its parser.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable, Sequence

import structlog
from aiohttp import web

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Middleware = Callable[[web.Request, Handler], Awaitable[web.StreamResponse]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
RETRY_AFTER_S = 1


def parse_networks(values: Sequence[str]) -> tuple[Network, ...]:
    """``["81.88.80.132", "10.0.0.0/8"]`` -> networks; a bare address is a /32 (or /128). Raises ValueError."""
    return tuple(ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip())


def _address(text: str | None) -> Address | None:
    if not text:
        return None
    text = text.strip()
    if text.startswith("[") and "]" in text:  # "[2001:db8::1]:443"
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # "203.0.113.7:51234"
        text = text.partition(":")[0]
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped  # a dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d
    return addr


def _within(addr: Address, networks: Sequence[Network]) -> bool:
    return any(addr.version == net.version and addr in net for net in networks)


def client_address(peer: str | None, forwarded_for: Sequence[str],
                   trusted_proxies: Sequence[Network]) -> Address | None:
    """The address that sent the request, or None when it cannot be told.

    ``forwarded_for`` holds every X-Forwarded-For header in order. It is read
    right to left, skipping trusted proxies, and only while the hop that added
    an entry is itself trusted; the first other address is the client.
    """
    addr = _address(peer)
    if addr is None or not _within(addr, trusted_proxies):
        return addr
    hops = [h for header in forwarded_for for h in header.split(",") if h.strip()]
    for hop in reversed(hops):
        addr = _address(hop)
        if addr is None:
            return None  # garbage where an address should be: nobody can vouch for the sender
        if not _within(addr, trusted_proxies):
            return addr
    return addr


def source_allowlist(*, prefix: str, allowed: Sequence[str], trusted_proxies: Sequence[str]) -> Middleware:
    """Middleware: posts under ``prefix`` only from ``allowed`` networks (all when empty)."""
    allowed_nets, proxy_nets = parse_networks(allowed), parse_networks(trusted_proxies)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if allowed_nets and (request.path == prefix or request.path.startswith(prefix + "/")):
            addr = client_address(request.remote, request.headers.getall("X-Forwarded-For", []), proxy_nets)
            if addr is None or not _within(addr, allowed_nets):
                log.warning("pbx_source_refused", source=str(addr) if addr else None, peer=request.remote,
                            path=request.path)
                return web.json_response({"error": "source address not allowed"}, status=403)
        return await handler(request)

    return middleware


# A handler that outlives the limits by design (the screen's WebSocket, once it is
# upgraded) calls this to leave them: its slot is freed and its deadline cleared.
DETACH_LIMITS: web.RequestKey[Callable[[], None]] = web.RequestKey("detach_limits")


def request_limits(*, max_concurrent: int, timeout_s: float) -> Middleware:
    """Middleware: refuse past ``max_concurrent`` requests in progress; stop any after ``timeout_s``.

    Every request counts, whatever its headers say: an ``Upgrade: websocket``
    header used to skip both the cap and the timeout on any route. Only a
    handler that calls ``request[DETACH_LIMITS]()`` leaves them (ws.py, after
    its own cap on sockets still waiting for their token).
    """
    in_progress = 0

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        nonlocal in_progress
        if in_progress >= max_concurrent:
            log.warning("request_refused_busy", in_progress=in_progress, path=request.path)
            return web.json_response({"error": "too many requests in progress, retry later"}, status=503,
                                     headers={"Retry-After": str(RETRY_AFTER_S)})
        in_progress += 1
        counted = True
        deadline = asyncio.timeout(timeout_s)

        def release() -> None:
            nonlocal in_progress, counted
            if counted:
                counted = False
                in_progress -= 1

        def detach() -> None:
            release()
            deadline.reschedule(None)  # called from inside the handler: the deadline is entered

        request[DETACH_LIMITS] = detach
        try:
            async with deadline:
                return await handler(request)
        except TimeoutError:
            if not deadline.expired():
                raise  # the handler's own timeout, not ours
            log.warning("request_timed_out", timeout_s=timeout_s, path=request.path)
            return web.json_response({"error": "request took too long, retry later"}, status=503,
                                     headers={"Retry-After": str(RETRY_AFTER_S)})
        finally:
            release()

    return middleware


def middlewares(*, prefix: str, allowed: Sequence[str], trusted_proxies: Sequence[str],
                max_concurrent: int, timeout_s: float) -> list[Middleware]:
    """The security middlewares in the order they must run (limits first)."""
    return [
        request_limits(max_concurrent=max_concurrent, timeout_s=timeout_s),
        source_allowlist(prefix=prefix, allowed=allowed, trusted_proxies=trusted_proxies),
    ]
