"""VK Callback API: the ``secret`` field of the body, ``confirmation`` answered with the code.

``message_new`` from a user is an inquiry (VK gives no name, phone or e-mail:
the person is ``from_id``, a phone only if typed in the text);
``message_reply`` is the community writing back: it joins the conversation
(``group_id`` + ``peer_id``) as the agency's side. Every other notification
is answered ``ok`` and filed nowhere. Dedup by ``event_id``.
"""

from __future__ import annotations

from typing import Any

from daemon.inquiries.delivery import (
    Delivery,
    Malformed,
    Refused,
    Reply,
    Translated,
    epoch,
    json_object,
    obj,
    secret_matches,
    text,
)
from daemon.inquiries.model import Inquiry
from daemon.inquiries.textscan import emails_in, phones_in

ANSWER = Reply(200, "ok")


def translate(delivery: Delivery) -> Translated:
    event = json_object(delivery.body)
    if not secret_matches(text(event.get("secret")), delivery.settings):
        raise Refused("missing or wrong secret")
    kind = text(event.get("type"))
    if kind is None:
        raise Malformed("type is missing")
    if kind == "confirmation":
        return Translated(None, Reply(200, delivery.settings.confirmation or ""))
    if kind not in ("message_new", "message_reply"):
        return Translated(None, ANSWER)
    message = _message(event)
    group = text(event.get("group_id")) or "-"
    peer, from_id = text(message.get("peer_id")), text(message.get("from_id"))
    if peer is None or from_id is None:
        raise Malformed("object.message.peer_id and from_id are required")
    event_id = text(event.get("event_id")) or f"{group}:{peer}:{text(message.get('id')) or '-'}"
    body = text(message.get("text"), limit=None)
    agency = kind == "message_reply" or from_id.startswith("-")
    inquiry = Inquiry(
        channel="vk", source=delivery.source, external_id=event_id[:500],
        received_at=epoch(message.get("date"), default=delivery.received_at),
        conversation_id=f"vk:{group}:{peer}"[:500],
        phones=() if agency else tuple(phones_in(body, delivery.region)[:1]),
        emails=() if agency else tuple(emails_in(body)[:1]),
        vk_id=None if agency else from_id, text=body, from_agency=agency,
    )
    return Translated(inquiry, ANSWER)


def _message(event: dict[str, Any]) -> dict[str, Any]:
    """API >= 5.103 wraps the message in ``object.message``; older versions send it as ``object``."""
    body = obj(event.get("object"))
    if "message" in body:
        message = body.get("message")
        if not isinstance(message, dict):
            raise Malformed("object.message must be an object")
        return message
    return body
