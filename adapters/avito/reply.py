"""Replies in an Avito chat: ``POST {api_url}/messenger/v1/accounts/{user_id}/chats/{chat_id}/messages``
with ``{"message": {"text"}, "type": "text"}`` and an OAuth bearer token.

The token comes from ``POST {api_url}/token/`` (client credentials) and is kept until
a minute before it expires; a 401 on a message (a token revoked early) drops it and
is tried again at once with a new one. A refused token request is a bad
``client_id``/``client_secret``: refused, not retried. About 1,000 characters (second-hand;
Avito publishes no limit). Avito takes no idempotency key.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from adapters.replying import REPLY_TIMEOUT_S, Answer, Opening, attempt, by_status, dig, opening
from daemon.domain.replies import Delivered, OutgoingReply, Refused, RetryLater, SendOutcome

if TYPE_CHECKING:
    import aiohttp

    from config.settings import SourceSettings

DEFAULT_API_URL = "https://api.avito.ru"
MAX_TEXT_CHARS = 1000
TOKEN_MARGIN_S = 60.0  # renew before Avito's clock says it expired


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: float  # time.monotonic()


class AvitoReply:
    kind = "avito"
    max_chars = MAX_TEXT_CHARS
    idempotent = False
    timeout_s = REPLY_TIMEOUT_S

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, str], _Token] = {}  # (api_url, client_id) -> token
        self._lock = asyncio.Lock()  # one token request at a time, not one per waiting reply

    async def send(self, session: aiohttp.ClientSession, source: SourceSettings,
                   reply: OutgoingReply) -> SendOutcome:
        account = reply.address.thread.get("user_id") or source.user_id
        found = opening(source, reply, key="client_secret", default_url=DEFAULT_API_URL,
                        client_id=source.client_id, user_id=account)
        if isinstance(found, Refused):
            return found
        url = found.url(f"/messenger/v1/accounts/{account}/chats/{reply.address.to}/messages")
        answer = await self._post(session, source, found, url, reply.text, renew=False)
        if isinstance(answer, Answer) and answer.status == 401:  # revoked before its time: once more
            answer = await self._post(session, source, found, url, reply.text, renew=True)
        if not isinstance(answer, Answer):
            return answer
        if answer.status == 200:
            message_id = dig(answer.body, "id")
            return Delivered(str(message_id) if message_id else None)
        return by_status(answer)

    async def _post(self, session: aiohttp.ClientSession, source: SourceSettings, found: Opening, url: str,
                    text: str, *, renew: bool) -> Answer | SendOutcome:
        token = await self._token(session, source, found, renew=renew)
        if not isinstance(token, str):
            return token
        return await attempt(session, timeout_s=self.timeout_s, url=url, headers={"Authorization": f"Bearer {token}"},
                             json_body={"message": {"text": text}, "type": "text"})

    async def _token(self, session: aiohttp.ClientSession, source: SourceSettings, found: Opening, *,
                     renew: bool) -> str | SendOutcome:
        key = (found.base, source.client_id or "")
        async with self._lock:
            cached = self._tokens.get(key)
            if cached is not None and not renew and cached.expires_at > time.monotonic():
                return cached.value
            answer = await attempt(session, found.url("/token/"), timeout_s=self.timeout_s, form={
                "grant_type": "client_credentials", "client_id": source.client_id or "",
                "client_secret": found.key})
            if not isinstance(answer, Answer):
                return RetryLater(f"token: {answer.reason}")  # no message went out
            value, lifetime = dig(answer.body, "access_token"), dig(answer.body, "expires_in")
            if answer.status != 200 or not isinstance(value, str):
                outcome = by_status(answer)
                return Refused(f"token: {outcome.reason}") if isinstance(outcome, Refused) else outcome
            lifetime_s = float(lifetime) if isinstance(lifetime, int | float) else 0.0
            self._tokens[key] = _Token(value, time.monotonic() + max(lifetime_s - TOKEN_MARGIN_S, 0.0))
            return value
