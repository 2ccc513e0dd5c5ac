"""Replies through Green-API: ``POST {api_url}/waInstance{id_instance}/sendMessage/{api_token}``
with ``{chatId, message}`` (https://green-api.com/en/docs/api/sending/SendMessage/).

The token is in the URL path, so no URL is ever logged or kept in a reason. Green-API
queues the message (kept 24 h while the phone is away) and takes no idempotency key:
a timeout is "maybe delivered". The provider id is ``<idInstance>:<chatId>:<idMessage>``,
as the incoming side keys its messages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from adapters.replying import REPLY_TIMEOUT_S, Answer, attempt, by_status, dig, opening
from daemon.domain.replies import Delivered, OutgoingReply, Refused, SendOutcome

if TYPE_CHECKING:
    import aiohttp

    from config.settings import SourceSettings

DEFAULT_API_URL = "https://api.green-api.com"
MAX_TEXT_CHARS = 20_000  # WhatsApp's, per the sendMessage page


class GreenApiReply:
    kind = "greenapi"
    max_chars = MAX_TEXT_CHARS
    idempotent = False
    timeout_s = REPLY_TIMEOUT_S

    async def send(self, session: aiohttp.ClientSession, source: SourceSettings,
                   reply: OutgoingReply) -> SendOutcome:
        instance = reply.address.thread.get("id_instance") or source.id_instance
        found = opening(source, reply, key="api_token", default_url=DEFAULT_API_URL, id_instance=instance)
        if isinstance(found, Refused):
            return found
        answer = await attempt(session, found.url(f"/waInstance{instance}/sendMessage/{found.key}"),
                               timeout_s=self.timeout_s,
                               json_body={"chatId": reply.address.to, "message": reply.text})
        if not isinstance(answer, Answer):
            return answer
        if answer.status == 200:
            message_id = dig(answer.body, "idMessage")
            return Delivered(f"{instance}:{reply.address.to}:{message_id}" if message_id else None)
        return by_status(answer)
