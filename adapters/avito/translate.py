"""Avito Messenger: ``?token=`` in the webhook URL (the ``X-Avito-Messenger-Signature`` header's
algorithm is undocumented, so it is not checked); one event per POST; Avito waits 2 s.

``payload.type == "message"``: ``value.user_id`` is the agency's account, ``author_id``
who wrote. Another author is a customer: an inquiry, the person the Avito user
``author_id`` (identifier kind ``avito``; Avito gives no name or phone, a phone only if
typed). The account's own messages (a manager in the Avito app, our reply echoed) are
the agency's side: they answer the chat. ``author_id`` 0 or missing, or ``type ==
"system"``, is Avito's notice: not filed. The ad (``item_id``) is kept as the
communication's ``utm.content`` (``utm.medium`` ``avito``) and maps to an ad source
through the source's ``items``. Dedup by the message's ``value.id`` (the envelope's id
may change per delivery); the conversation ``avito:<user_id>:<chat_id>``.
"""

from __future__ import annotations

from typing import Any

from daemon.domain.delivery import Delivery, Malformed, Reply, Translated, epoch, json_object, obj, require_token, text
from daemon.domain.inquiry import Inquiry, Utm
from daemon.domain.replies import ReplyAddress
from daemon.domain.textscan import emails_in, phones_in

# Avito waits this long for the webhook's answer, then counts the delivery failed.
ANSWER_WITHIN_S = 2.0

ANSWER = Reply(200, {"ok": True})
AD_MEDIUM = "avito"


def translate(delivery: Delivery) -> Translated:
    require_token(delivery, allow_bearer=False)
    event = json_object(delivery.body)
    payload = obj(event.get("payload"))
    if text(payload.get("type")) != "message":
        return Translated(None, ANSWER)
    value = obj(payload.get("value"))
    author, account = text(value.get("author_id")), text(value.get("user_id"))
    if author in (None, "0") or text(value.get("type")) == "system":
        return Translated(None, ANSWER)  # Avito's own notice in the chat
    message_id, chat_id = text(value.get("id")), text(value.get("chat_id"))
    if message_id is None:
        raise Malformed("payload.value.id is required: the dedup key")
    if chat_id is None:
        raise Malformed("payload.value.chat_id is required: the way to reply")
    agency = author == account
    words = _text(value)
    item = text(value.get("item_id"))
    inquiry = Inquiry(
        channel="avito", source=delivery.source, external_id=message_id[:500],
        received_at=epoch(value.get("created"), default=delivery.received_at),
        conversation_id=f"avito:{account or '-'}:{chat_id}"[:500],
        phones=() if agency else tuple(phones_in(words, delivery.region)[:1]),
        emails=() if agency else tuple(emails_in(words)[:1]),
        avito_id=None if agency else author, text=words, from_agency=agency,
        utm=Utm(medium=AD_MEDIUM, content=item) if item else Utm(),
        # The account's own message names its id, as our send was told (the outbox's echo check).
        reply_to=ReplyAddress(to=chat_id, thread={"message_id": message_id} if agency
                              else ({"user_id": account} if account else {})),
    )
    return Translated(inquiry, ANSWER)


def _text(value: dict[str, Any]) -> str | None:
    content = obj(value.get("content"))
    words = text(content.get("text"), limit=None)
    kind = text(value.get("type"))
    if words or kind in (None, "text"):
        return words
    return f"[{kind}]"
