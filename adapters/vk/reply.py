"""Replies through the VK API: ``messages.send`` (``peer_id``, ``message``, ``random_id``, ``v=5.199``).

``random_id`` is the outbox's id of the message: VK drops a repeat, so a retry
after a lost answer is never delivered twice. The answer is ``{"response": id}``
or ``{"error": {"error_code", "error_msg"}}``: too many requests (6), flood
control (9), an internal error (10) or a server error (HTTP 5xx) are tried
again; everything else (901 "can't send messages for users without permission",
900 blacklisted, 5 a wrong token) is final.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from adapters.replying import Answer, attempt, opening
from daemon.domain.replies import Delivered, OutgoingReply, Refused, RetryLater, SendOutcome

if TYPE_CHECKING:
    import aiohttp

    from config.settings import SourceSettings

API_URL = "https://api.vk.com/method"
API_VERSION = "5.199"
MAX_CHARS = 9000  # messages.send's message (VK's schema: maxLength 9000)
RETRY_CODES = frozenset({1, 6, 9, 10})  # unknown, too many per second, flood control, internal
TOO_MANY_WAIT_S = 1.0  # error 6 is per second


class VkReply:
    kind = "vk"
    max_chars = MAX_CHARS
    idempotent = True

    async def send(self, session: aiohttp.ClientSession, source: SourceSettings,
                   reply: OutgoingReply) -> SendOutcome:
        found = opening(source, reply, key="access_token", default_url=API_URL)
        if isinstance(found, Refused):
            return found
        form = {"peer_id": reply.address.to, "message": reply.text, "random_id": str(reply.message_id),
                "v": API_VERSION, "access_token": found.key}
        answer = await attempt(session, found.url("/messages.send"), form=form)
        return answer if isinstance(answer, RetryLater) else outcome(answer)


def outcome(answer: Answer) -> SendOutcome:
    """What VK's answer means for the message."""
    if answer.status >= 500 or answer.status == 429:
        return RetryLater(f"HTTP {answer.status}")
    body = answer.body if isinstance(answer.body, dict) else {}
    if "response" in body:
        response = body["response"]
        return Delivered(str(response) if isinstance(response, int | str) else None)
    found = body.get("error")
    error: dict[str, Any] = found if isinstance(found, dict) else {}
    code = error.get("error_code")
    reason = f"{code}: {error.get('error_msg') or 'no message'}"[:300] if code is not None else f"HTTP {answer.status}"
    if code in RETRY_CODES:
        return RetryLater(reason, after_s=TOO_MANY_WAIT_S if code == 6 else None)
    return Refused(reason)
