"""One HTTP attempt to a provider's send API, in the reply contract's words (daemon/domain/replies.py).

Every reply channel (``adapters/<kind>/reply.py``) opens the same way: ``opening`` takes
the source's credential and the API's base URL, or refuses the reply when a setting it
cannot do without is missing (``missing``; the same request could only fail again).
Then it posts through ``attempt``: a request
that could not be made is ``RetryLater`` (nothing reached the provider); a timeout or a
connection lost after sending is ``RetryLater`` with ``maybe_delivered`` (the provider may
have taken it). An answer is handed back as ``Answer`` for the channel to read;
``by_status`` gives the usual reading of the statuses no provider means otherwise
(429 and 5xx: later, after ``Retry-After`` when given; any other 4xx: refused).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import aiohttp
from pydantic import SecretStr

from daemon.domain.replies import Refused, RetryLater

if TYPE_CHECKING:
    from config.settings import SourceSettings
    from daemon.domain.replies import OutgoingReply

REPLY_TIMEOUT_S = 15.0  # a send API answers in well under a second; past this it is lost
MAX_REASON_CHARS = 300


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any  # the JSON, or the text when it is not JSON
    retry_after_s: float | None = None  # the Retry-After header, in seconds

    def reason(self) -> str:
        body = self.body if isinstance(self.body, str) else json.dumps(self.body, ensure_ascii=False)
        return f"HTTP {self.status}: {body}"[:MAX_REASON_CHARS]


@dataclass(frozen=True)
class Opening:
    key: str  # the source's credential, in plain text: never logged, never in a reason
    base: str  # the API's base URL, without the trailing slash

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


def opening(source: SourceSettings, reply: OutgoingReply, *, key: str, default_url: str,
            **needed: str | SecretStr | None) -> Opening | Refused:
    """The setting ``key`` of the source (its credential) and the base URL (``api_url``, else
    ``default_url``); refused when the credential or any of ``needed`` is missing."""
    credential = getattr(source, key)
    if refused := missing(reply, {key: credential, **needed}):
        return refused
    return Opening(plain(credential), (source.api_url or default_url).rstrip("/"))


def missing(reply: OutgoingReply, needed: Mapping[str, str | SecretStr | None], *, hint: str = "") -> Refused | None:
    """Refused, naming the settings of ``needed`` (name -> value) that are empty; None when all are there."""
    names = [name for name, value in needed.items() if not plain(value)]
    return Refused(f"source {reply.source!r} has no {' or '.join(names)}{hint}") if names else None


def plain(value: str | SecretStr | None) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else (value or "")


async def attempt(session: aiohttp.ClientSession, url: str, *, headers: dict[str, str] | None = None,
                  json_body: Any = None, form: dict[str, str] | None = None,
                  params: dict[str, str] | None = None,
                  timeout_s: float = REPLY_TIMEOUT_S) -> Answer | RetryLater:
    """POST once; the answer, or why there is none (never the URL: some carry a token)."""
    try:
        async with session.post(url, headers=headers, json=json_body, data=form, params=params,
                                timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
            raw = await resp.text()
            return Answer(resp.status, _parsed(raw), _retry_after(resp.headers.get("Retry-After")))
    except TimeoutError:
        return RetryLater(f"no answer within {timeout_s:g} s", maybe_delivered=True)
    except (aiohttp.ClientConnectorError, aiohttp.InvalidURL) as exc:
        return RetryLater(f"could not connect: {type(exc).__name__}")
    except (aiohttp.ClientError, asyncio.IncompleteReadError) as exc:
        # The request went out and the answer was lost: it may have been taken.
        return RetryLater(f"connection lost: {type(exc).__name__}", maybe_delivered=True)


def by_status(answer: Answer, *, retry_after_s: float | None = None) -> RetryLater | Refused:
    """The usual reading of an answer that is not a success."""
    if answer.status == 429 or answer.status >= 500:
        wait = retry_after_s if retry_after_s is not None else answer.retry_after_s
        return RetryLater(answer.reason(), after_s=wait)
    return Refused(answer.reason())  # 400, 401, 403, 404: the same request would fail the same way


def too_long(text: str, limit: int, where: str) -> Refused | None:
    if len(text) > limit:
        return Refused(f"{len(text)} characters: {where} takes at most {limit}")
    return None


def _parsed(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw[:MAX_REASON_CHARS]


def _retry_after(value: str | None) -> float | None:
    try:
        seconds = float(value) if value else None
    except ValueError:
        return None  # an HTTP date: rare from APIs; the outbox's own backoff applies
    return seconds if seconds is not None and seconds >= 0 else None


def dig(value: Any, *keys: str) -> Any:
    """``value[k1][k2]…``, or None where the provider's answer has another shape."""
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value
