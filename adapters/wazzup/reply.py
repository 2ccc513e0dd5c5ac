"""Replies through Wazzup24: ``POST {api_url}/v3/message`` with ``Authorization: Bearer <api_key>``
(https://wazzup24.com/help/api-en/sending-messages/).

The route "is not idempotent" unless given a ``crmMessageId``: ours is the outbox's
message id, so a retry after a lost answer is refused with ``repeatedCrmMessageId``,
which means it was sent. Text limits by chat: WhatsApp 10,000 characters, Telegram and
WABA 4,096, Instagram 1,000.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.replying import REPLY_TIMEOUT_S, Answer, attempt, by_status, dig, opening, too_long
from daemon.domain.replies import Delivered, OutgoingReply, Refused, SendOutcome

if TYPE_CHECKING:
    import aiohttp

    from config.settings import SourceSettings

DEFAULT_API_URL = "https://api.wazzup24.com"
MAX_TEXT_CHARS = 10_000  # WhatsApp's; the other chats are checked by LIMITS
LIMITS = {"telegram": 4096, "instagram": 1000, "avito": 1000}
ALREADY_SENT = ("repeatedCrmMessageId", "REPEATED_CRM_MESSAGE_ID")


class WazzupReply:
    kind = "wazzup"
    max_chars = MAX_TEXT_CHARS
    idempotent = True
    timeout_s = REPLY_TIMEOUT_S

    async def send(self, session: aiohttp.ClientSession, source: SourceSettings,
                   reply: OutgoingReply) -> SendOutcome:
        found = opening(source, reply, key="api_key", default_url=DEFAULT_API_URL)
        if isinstance(found, Refused):
            return found
        chat_type = reply.address.thread.get("chat_type", "whatsapp")
        channel_id = reply.address.thread.get("channel_id")
        if not channel_id:
            return Refused("the reply address has no Wazzup channel_id")
        if refused := too_long(reply.text, LIMITS.get(chat_type, MAX_TEXT_CHARS), f"Wazzup {chat_type}"):
            return refused
        answer = await attempt(
            session, found.url("/v3/message"), timeout_s=self.timeout_s,
            headers={"Authorization": f"Bearer {found.key}"},
            json_body={"channelId": channel_id, "chatType": chat_type, "chatId": reply.address.to,
                       "text": reply.text, "crmMessageId": str(reply.message_id)})
        if not isinstance(answer, Answer):
            return answer
        if answer.status in (200, 201):
            message_id = dig(answer.body, "messageId")
            return Delivered(str(message_id) if message_id else None)
        if answer.status == 400 and (dig(answer.body, "error") in ALREADY_SENT):
            return Delivered(None)  # our earlier attempt got through; its answer was lost
        return by_status(answer)
