"""Replies to a MAX dialog: ``POST {api_url}/messages?user_id=<user>`` with the bot token, bare,
in ``Authorization`` (https://dev.max.ru/docs-api/methods/POST/messages).

At most 4,000 characters; at most 30 requests a second to MAX per bot (MAX's own figure
for platform-api; 429 when exceeded): ``requests_per_s``, which the outbox keeps for every
daemon together (daemon/inquiries/pace.py), one source being one bot. MAX takes no
idempotency key: a timeout is "maybe delivered". 401 is a bad token; 403 is a user who
stopped the bot (or a chat the bot cannot reach): neither is retried.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.replying import REPLY_TIMEOUT_S, Answer, attempt, by_status, dig, opening
from daemon.domain.replies import Delivered, OutgoingReply, Refused, SendOutcome

if TYPE_CHECKING:
    import aiohttp

    from config.settings import SourceSettings

DEFAULT_API_URL = "https://platform-api2.max.ru"  # the official client's host since mid-2026
MAX_TEXT_CHARS = 4000
REQUESTS_PER_S = 30


class MaxReply:
    kind = "max"
    max_chars = MAX_TEXT_CHARS
    idempotent = False
    timeout_s = REPLY_TIMEOUT_S
    requests_per_s = REQUESTS_PER_S

    async def send(self, session: aiohttp.ClientSession, source: SourceSettings,
                   reply: OutgoingReply) -> SendOutcome:
        found = opening(source, reply, key="bot_token", default_url=DEFAULT_API_URL)
        if isinstance(found, Refused):
            return found
        answer = await attempt(session, found.url("/messages"), timeout_s=self.timeout_s,
                               headers={"Authorization": found.key}, json_body={"text": reply.text},
                               params={"user_id": reply.address.to})
        if not isinstance(answer, Answer):
            return answer
        if answer.status == 200:
            mid = dig(answer.body, "message", "body", "mid")
            return Delivered(str(mid) if mid else None)
        return by_status(answer)
