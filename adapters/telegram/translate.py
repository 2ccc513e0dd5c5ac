"""Telegram: ``X-Telegram-Bot-Api-Secret-Token`` (set by our ``setWebhook``), one ``Update`` per POST.

Only ``message`` updates are filed (an edited message has the same id and is
not news; other updates are not inquiries), and a Telegram Business account's
``business_message`` and ``edited_business_message`` (adapters/telegram/business.py). The person is ``from.id``; a phone
arrives only as a shared contact, trusted as the sender's own only when
``contact.user_id == from.id``, or typed in the text. External id
``<chat.id>:<message_id>`` (``update_id`` restarts at random after a week of
silence); the conversation is the chat. Only a way to reply (the chat, or the
person in a private chat) and a dedup key are required. The way to reply
(``reply_to``) is the chat: ``sendMessage`` takes its ``chat_id``.
"""

from __future__ import annotations

from typing import Any

from adapters.telegram.business import business_message
from daemon.domain.delivery import Delivery, Malformed, Reply, Translated, epoch, obj, signed_object, text
from daemon.domain.inquiry import Inquiry
from daemon.domain.replies import ReplyAddress
from daemon.domain.textscan import emails_in, phones_in

ANSWER = Reply(200, None)
# A manager's own account, through the bot connected to it (adapters/telegram/business.py).
BUSINESS_UPDATES = ("business_message", "edited_business_message")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def translate(delivery: Delivery) -> Translated:
    update = signed_object(delivery, delivery.headers.get(SECRET_HEADER), what=SECRET_HEADER)
    for key in BUSINESS_UPDATES:
        if isinstance(update.get(key), dict):
            return business_message(delivery, update[key], ANSWER, edited=key.startswith("edited_"))
    message = update.get("message")
    if not isinstance(message, dict):
        return Translated(None, ANSWER)  # edited messages, callbacks, member changes: not inquiries
    sender, chat = obj(message.get("from")), obj(message.get("chat"))
    if sender.get("is_bot") is True:
        return Translated(None, ANSWER)
    notes: list[str] = []
    # A private chat's id is the person's: either is the way to reply.
    chat_id = text(chat.get("id")) or text(sender.get("id"))
    if chat_id is None:
        raise Malformed("message.chat.id (or message.from.id) is required: the way to reply")
    external_id = _external_id(chat_id, message, update, notes)
    person = text(sender.get("id")) or (chat_id if text(chat.get("type")) == "private" else None)
    if text(sender.get("id")) is None or text(chat.get("id")) is None:
        notes.append("message.chat.id or message.from.id is missing: the other one stands in for it")
    body = text(message.get("text"), limit=None) or text(message.get("caption"), limit=None)
    phones = _own_contact(message, sender) + phones_in(body, delivery.region)[:1]
    inquiry = Inquiry(
        channel="telegram", source=delivery.source, external_id=external_id[:500],
        received_at=epoch(message.get("date"), default=delivery.received_at),
        conversation_id=f"tg:{chat_id}"[:500], name=_name(sender), phones=tuple(phones),
        emails=tuple(emails_in(body)[:1]), telegram_id=person, text=body,
        reply_to=ReplyAddress(to=chat_id[:500]),  # sendMessage chat_id
    )
    return Translated(inquiry, ANSWER, notes=tuple(notes))


def _external_id(chat_id: str, message: dict[str, Any], update: dict[str, Any], notes: list[str]) -> str:
    """``<chat.id>:<message_id>``; without message_id the update's id (unique, but restarts at random)."""
    message_id = text(message.get("message_id"))
    if message_id is not None:
        return f"{chat_id}:{message_id}"
    update_id = text(update.get("update_id"))
    if update_id is None:
        raise Malformed("message.message_id (or update_id) is required: the dedup key")
    notes.append("message.message_id is missing: deduplicated by update_id")
    return f"{chat_id}:update:{update_id}"


def _own_contact(message: dict[str, Any], sender: dict[str, Any]) -> list[str]:
    """The phone of a shared contact, when it is the sender's own (a forwarded card is someone else)."""
    contact = obj(message.get("contact"))
    phone = text(contact.get("phone_number"))
    if phone is None or text(contact.get("user_id")) is None or text(contact.get("user_id")) != text(sender.get("id")):
        return []
    # Telegram sends it without "+" in practice: 79161234567.
    return [phone if phone.startswith("+") else "+" + phone]


def _name(sender: dict[str, Any]) -> str | None:
    parts = [text(sender.get("first_name")), text(sender.get("last_name"))]
    return " ".join(p for p in parts if p) or None
