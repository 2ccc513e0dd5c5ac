"""Replies as the manager in a Telegram Business chat: ``sendMessage`` with the chat and the
``business_connection_id`` the customer's message came through
(https://core.telegram.org/bots/api#sendmessage).

Telegram sends it only while the connection allows the bot to reply (the owner's
``rights.can_reply``): otherwise it refuses (400), as it refuses a user who blocked the
bot (403) or a bad token (401); none is retried. 429 carries
``parameters.retry_after`` (seconds). A plain bot chat's reply is the same call without
the connection (``business_fields`` gives what the address adds). No idempotency key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.replying import REPLY_TIMEOUT_S, Answer, attempt, by_status, dig
from daemon.domain.replies import Delivered, OutgoingReply, Refused, ReplyAddress, SendOutcome

if TYPE_CHECKING:
    import aiohttp

    from config.settings import SourceSettings

DEFAULT_API_URL = "https://api.telegram.org"
MAX_TEXT_CHARS = 4096


def business_fields(address: ReplyAddress) -> dict[str, str]:
    """What a reply in a business chat adds to ``sendMessage``."""
    connection = address.thread.get("business_connection_id")
    return {"business_connection_id": connection} if connection else {}


class TelegramBusinessReply:
    kind = "telegram"
    max_chars = MAX_TEXT_CHARS
    idempotent = False
    timeout_s = REPLY_TIMEOUT_S

    async def send(self, session: aiohttp.ClientSession, source: SourceSettings,
                   reply: OutgoingReply) -> SendOutcome:
        token = source.bot_token.get_secret_value() if source.bot_token is not None else ""
        if not token:
            return Refused(f"source {reply.source} has no bot_token")
        base = (source.api_url or DEFAULT_API_URL).rstrip("/")
        answer = await attempt(session, timeout_s=self.timeout_s, url=f"{base}/bot{token}/sendMessage",
                               json_body={"chat_id": reply.address.to, "text": reply.text,
                                          **business_fields(reply.address)})
        if not isinstance(answer, Answer):
            return answer
        if answer.status == 200 and dig(answer.body, "ok") is True:
            message_id = dig(answer.body, "result", "message_id")
            return Delivered(str(message_id) if message_id is not None else None)
        retry_after = dig(answer.body, "parameters", "retry_after")
        return by_status(answer, retry_after_s=float(retry_after) if isinstance(retry_after, int | float) else None)
