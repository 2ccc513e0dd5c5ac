"""Replies through the Telegram Bot API: ``POST {api_url}/bot{bot_token}/sendMessage`` (``chat_id``, ``text``).

The answer is ``{"ok": true, "result": Message}`` or ``{"ok": false, "error_code",
"description", "parameters": {"retry_after"}}``: 429 waits ``retry_after``, 5xx
is tried again, any other refusal (403 "bot was blocked by the user", 400
"chat not found", 401 a wrong token) is final. Telegram takes no idempotency
key, so a retry after a timeout may deliver twice (the outbox counts it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adapters.replying import Answer, attempt, opening
from daemon.domain.replies import Delivered, OutgoingReply, Refused, RetryLater, SendOutcome

if TYPE_CHECKING:
    import aiohttp

    from config.settings import SourceSettings

API_URL = "https://api.telegram.org"
MAX_CHARS = 4096  # sendMessage's text: 1-4096 characters


class TelegramReply:
    kind = "telegram"
    max_chars = MAX_CHARS
    idempotent = False

    async def send(self, session: aiohttp.ClientSession, source: SourceSettings,
                   reply: OutgoingReply) -> SendOutcome:
        found = opening(source, reply, key="bot_token", default_url=API_URL)
        if isinstance(found, Refused):
            return found
        body: dict[str, Any] = {"chat_id": reply.address.to, "text": reply.text}
        if connection := reply.address.thread.get("business_connection_id"):
            body["business_connection_id"] = connection
        answer = await attempt(session, found.url(f"/bot{found.key}/sendMessage"), json_body=body)
        return answer if isinstance(answer, RetryLater) else outcome(answer)


def outcome(answer: Answer) -> SendOutcome:
    """What Telegram's answer means for the message."""
    body = answer.body if isinstance(answer.body, dict) else {}
    if answer.status == 200 and body.get("ok") is True:
        result = body.get("result")
        message_id = result.get("message_id") if isinstance(result, dict) else None
        return Delivered(str(message_id) if message_id is not None else None)
    description = str(body.get("description") or f"HTTP {answer.status}")[:300]
    if answer.status == 429:
        parameters = body.get("parameters")
        retry_after = parameters.get("retry_after") if isinstance(parameters, dict) else None
        after = float(retry_after) if isinstance(retry_after, int | float) and retry_after >= 0 else None
        return RetryLater(description, after_s=after)
    if answer.status >= 500:
        return RetryLater(description)
    return Refused(description)
