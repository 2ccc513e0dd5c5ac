"""VK Callback API: the ``secret`` field of the body, ``confirmation`` answered with the code.

``message_new`` from a user is an inquiry (VK gives no name, phone or e-mail:
the person is ``from_id``, a phone only if typed in the text);
``message_reply`` is the community writing back: it joins the conversation
(``group_id`` + ``peer_id``) as the agency's side. Dedup by ``event_id``. The way to
reply (``reply_to``) is the ``peer_id``; on ``message_reply`` it carries the message's
``id`` and ``random_id`` instead, so that the outbox's own replies, echoed back, are
known as such.
``lead_forms_new`` (an ad's lead form) is an inquiry too (``adapters.vk.lead_forms``).
Every other notification is answered ``ok`` and filed nowhere.
"""

from __future__ import annotations

from typing import Any

from adapters.vk.lead_forms import lead_form
from daemon.domain.delivery import (
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
from daemon.domain.inquiry import Inquiry
from daemon.domain.replies import ReplyAddress
from daemon.domain.textscan import emails_in, phones_in

ANSWER = Reply(200, "ok")
GROUP_CHAT_PEER_MIN = 2_000_000_000  # peer_id of a multi-user chat: 2000000000 + chat id


def translate(delivery: Delivery) -> Translated:
    event = json_object(delivery.body)
    if not secret_matches(text(event.get("secret")), delivery.settings):
        raise Refused("missing or wrong secret")
    kind = text(event.get("type"))
    if kind is None:
        raise Malformed("type is missing")
    if kind == "confirmation":
        confirmation = delivery.settings.confirmation if delivery.settings is not None else None
        return Translated(None, Reply(200, confirmation or ""))
    if kind == "lead_forms_new":
        return lead_form(event, delivery, ANSWER)
    if kind not in ("message_new", "message_reply"):
        return Translated(None, ANSWER)
    message = _message(event)
    group = text(event.get("group_id")) or "-"
    peer, from_id, notes = _dialog(message)
    event_id = text(event.get("event_id")) or f"{group}:{peer}:{text(message.get('id')) or '-'}"
    body = text(message.get("text"), limit=None)
    agency = kind == "message_reply" or (from_id or "").startswith("-")
    inquiry = Inquiry(
        channel="vk", source=delivery.source, external_id=event_id[:500],
        received_at=epoch(message.get("date"), default=delivery.received_at),
        conversation_id=f"vk:{group}:{peer}"[:500],
        phones=() if agency else tuple(phones_in(body, delivery.region)[:1]),
        emails=() if agency else tuple(emails_in(body)[:1]),
        vk_id=None if agency else from_id, text=body, from_agency=agency,
        reply_to=_echo(message, peer) if agency else ReplyAddress(to=peer[:500]),
    )
    return Translated(inquiry, ANSWER, notes=notes)


def _echo(message: dict[str, Any], peer: str) -> ReplyAddress:
    """The community's own message: its ids, by which the outbox knows a reply it sent itself
    (``random_id`` is the outbox's message id, ``id`` what ``messages.send`` answered)."""
    ids = {"message_id": text(message.get("id")), "random_id": text(message.get("random_id"))}
    return ReplyAddress(to=peer[:500], thread={k: v for k, v in ids.items() if v and v != "0"})


def _dialog(message: dict[str, Any]) -> tuple[str, str | None, tuple[str, ...]]:
    """(peer_id: the way to reply, from_id: the person, notes). In a private dialog they
    are one id, so either stands in for the other; in a group chat (peer_id above
    2000000000) the sender is unknown without from_id."""
    peer, from_id = text(message.get("peer_id")), text(message.get("from_id"))
    if peer is None and from_id is None:
        raise Malformed("object.message.peer_id or from_id is required: the way to reply")
    if peer is not None and from_id is not None:
        return peer, from_id, ()
    if peer is None:
        return str(from_id), from_id, ("object.message.peer_id is missing: from_id stands in for it",)
    private = peer.isdigit() and int(peer) < GROUP_CHAT_PEER_MIN
    return peer, peer if private else None, ("object.message.from_id is missing",)


def _message(event: dict[str, Any]) -> dict[str, Any]:
    """API >= 5.103 wraps the message in ``object.message``; older versions send it as ``object``."""
    body = obj(event.get("object"))
    if "message" in body:
        message = body.get("message")
        if not isinstance(message, dict):
            raise Malformed("object.message must be an object")
        return message
    return body
