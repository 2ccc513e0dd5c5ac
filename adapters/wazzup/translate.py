"""Wazzup24: ``?token=`` in the webhook URL (Wazzup signs nothing for a plain account), and
one POST may carry ``messages[]`` and ``statuses[]`` together.

``{"test": true}`` (sent when the webhook is set) is answered 200 and filed nowhere.
Each message is an inquiry, deduplicated by its ``messageId``, in the conversation
``wazzup:<channelId>:<chatType>:<chatId>``. The person: a ``whatsapp`` or ``viber``
chat's ``chatId`` is the phone (digits only); a ``telegram`` chat's is the Telegram id
(with ``contact.phone`` when Telegram shows it), a ``vk`` chat's the VK id, an ``avito``
chat's the Avito id, an ``instagram`` chat's the Instagram id (a phone only if typed).
``isEcho: true`` is the agency's own message (sent from Wazzup, the phone or our
reply): it joins the conversation as the agency's side and answers it. Group chats
(``whatsgroup``, ``telegroup``) and deleted messages are not inquiries. Each ``statuses``
item is the provider's state of one of our replies, by the ``messageId`` Wazzup gave it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from daemon.domain.delivery import (
    Delivery,
    Malformed,
    Reply,
    Translated,
    json_object,
    obj,
    objects,
    require_token,
    text,
)
from daemon.domain.events import ReplyStatusReported
from daemon.domain.inquiry import Channel, Inquiry
from daemon.domain.replies import ReplyAddress
from daemon.domain.textscan import emails_in, phones_in

ANSWER = Reply(200, None)
CHANNELS: dict[str, Channel] = {"whatsapp": "whatsapp", "viber": "viber", "telegram": "telegram", "vk": "vk",
                                "avito": "avito", "instagram": "instagram"}
PHONE_CHATS = ("whatsapp", "viber")  # chatId is the number, digits only


def translate(delivery: Delivery) -> Translated:
    require_token(delivery)
    body = json_object(delivery.body)
    if body.get("test") is True:
        return Translated(None, ANSWER)
    inquiries = [found for m in objects(body.get("messages")) if (found := _message(delivery, m)) is not None]
    statuses = tuple(st for s in objects(body.get("statuses")) if (st := _status(s)) is not None)
    if not inquiries:
        return Translated(None, ANSWER, statuses=statuses)
    return Translated(inquiries[0], ANSWER, more=tuple(inquiries[1:]), statuses=statuses)


def _message(delivery: Delivery, message: dict[str, Any]) -> Inquiry | None:
    chat_type = text(message.get("chatType"))
    if chat_type not in CHANNELS or message.get("isDeleted") is True:
        return None  # group chats, deleted messages: no one to answer
    message_id, channel_id, chat_id = (text(message.get(k)) for k in ("messageId", "channelId", "chatId"))
    if message_id is None:
        raise Malformed("messages[].messageId is required: the dedup key")
    if channel_id is None or chat_id is None:
        raise Malformed("messages[].channelId and chatId are required: the way to reply")
    agency = message.get("isEcho") is True
    words = _text(message)
    person = {} if agency else _person(chat_type, chat_id, obj(message.get("contact")), words, delivery.region)
    return Inquiry(
        channel=CHANNELS[chat_type], source=delivery.source, external_id=message_id[:500],
        received_at=_iso(message.get("dateTime")) or delivery.received_at,
        conversation_id=f"wazzup:{channel_id}:{chat_type}:{chat_id}"[:500],
        name=None if agency else text(obj(message.get("contact")).get("name")),
        text=words, from_agency=agency, **person,
        # An echo names its message as our send was told (Delivered.provider_id): the outbox
        # recognises its own reply coming back.
        reply_to=ReplyAddress(to=chat_id, thread={"message_id": message_id} if agency else {
            "channel_id": channel_id, "chat_type": chat_type}),
    )


def _person(chat_type: str, chat_id: str, contact: dict[str, Any], words: str | None, region: str) -> dict[str, Any]:
    """The identifiers the chat gives: the chat's own account, then what the text adds."""
    typed = phones_in(words, region)[:1]
    found: dict[str, Any] = {"emails": tuple(emails_in(words)[:1])}
    if chat_type in PHONE_CHATS:
        return found | {"phones": ("+" + chat_id.lstrip("+"),)}
    shown = text(contact.get("phone"))
    phones = (["+" + shown.lstrip("+")] if shown and shown.lstrip("+").isdigit() else []) + typed
    found["phones"] = tuple(phones[:1])
    if chat_type == "telegram":
        found["telegram_id"] = chat_id
    elif chat_type == "vk":
        found["vk_id"] = chat_id
    elif chat_type == "avito":
        found["avito_id"] = chat_id
    elif chat_type == "instagram":
        found["instagram_id"] = chat_id
    return found


def _text(message: dict[str, Any]) -> str | None:
    words = text(message.get("text"), limit=None)
    kind, uri = text(message.get("type")), text(message.get("contentUri"))
    if kind in (None, "text") or uri is None:
        return words
    return "\n".join(p for p in (words, f"[{kind}] {uri}") if p)


def _status(item: dict[str, Any]) -> ReplyStatusReported | None:
    message_id, status = text(item.get("messageId")), text(item.get("status"))
    if message_id is None or status is None:
        return None
    at = _iso(item.get("timestamp"))
    error = obj(item.get("error"))
    return ReplyStatusReported(provider_id=message_id[:500], status=status[:50],
                               at=int(at.timestamp()) if at else None,
                               detail=text(error.get("description")) or text(error.get("error")))


def _iso(value: Any) -> datetime | None:
    """Wazzup's ``2025-05-12T11:05:42.315Z``; None when absent or unreadable."""
    raw = text(value)
    if raw is None:
        return None
    try:
        found = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return found if found.tzinfo is not None else None
