"""One JSON call to a messenger's API for a reply, its failures sorted into the outbox's words.

What may have reached the provider matters (``RetryLater.maybe_delivered``): a
refused connection delivered nothing, a timeout or a connection dropped after
the request was written may have delivered it.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import aiohttp

from daemon.domain.replies import RetryLater


@dataclass(frozen=True)
class Answer:
    """The provider's HTTP status and its body as JSON (None when it is not JSON)."""

    status: int
    body: Any


async def call(session: aiohttp.ClientSession, url: str, *, json_body: dict[str, Any] | None = None,
               form: dict[str, str] | None = None) -> Answer | RetryLater:
    """POST ``json_body`` (or the ``form``) to ``url``; never raises for the network."""
    try:
        async with session.post(url, json=json_body, data=form) as response:
            raw = await response.read()
            return Answer(response.status, _json(raw))
    except aiohttp.ClientConnectorError as exc:
        # Never connected: nothing was sent. The exception names the host only, never the URL's token.
        return RetryLater(f"cannot connect: {type(exc).__name__}")
    except TimeoutError:
        return RetryLater("no answer in time", maybe_delivered=True)
    except (aiohttp.ClientError, asyncio.IncompleteReadError) as exc:
        return RetryLater(f"connection failed: {type(exc).__name__}", maybe_delivered=True)


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
