"""Telegram Business (Bot API 7.2+): the bot connected to a manager's own account receives
that account's private chats as ``business_message`` / ``edited_business_message``.

The customer writes to a person, not to the bot: ``chat`` is the private chat with
the customer, so ``chat.id`` is the customer; a message whose ``from`` is someone
else (the business owner) or that the bot sent for them (``sender_business_bot``)
is the agency's side and answers the chat. Dedup
``<business_connection_id>:<chat.id>:<message_id>`` (an edit: ``…:edit:<edit_date>``,
its new text joins the transcript); the conversation
``tgbiz:<business_connection_id>:<chat.id>``; the reply goes as the manager
(``sendMessage`` with ``business_connection_id``).
"""

from __future__ import annotations

from typing import Any

from daemon.domain.delivery import Delivery, Malformed, Reply, Translated, epoch, obj, text
from daemon.domain.inquiry import Inquiry
from daemon.domain.replies import ReplyAddress
from daemon.domain.textscan import emails_in, phones_in


def business_message(delivery: Delivery, message: dict[str, Any], answer: Reply, *, edited: bool) -> Translated:
    connection = text(message.get("business_connection_id"))
    sender, chat = obj(message.get("from")), obj(message.get("chat"))
    chat_id, message_id = text(chat.get("id")), text(message.get("message_id"))
    if connection is None or chat_id is None:
        raise Malformed("business_message.business_connection_id and chat.id are required: the way to reply")
    if message_id is None:
        raise Malformed("business_message.message_id is required: the dedup key")
    external_id = f"{connection}:{chat_id}:{message_id}"
    if edited:
        external_id += f":edit:{text(message.get('edit_date')) or '-'}"
    agency = text(sender.get("id")) != chat_id or "sender_business_bot" in message
    words = text(message.get("text"), limit=None) or text(message.get("caption"), limit=None)
    inquiry = Inquiry(
        channel="telegram", source=delivery.source, external_id=external_id[:500],
        received_at=epoch(message.get("edit_date") if edited else message.get("date"), default=delivery.received_at),
        conversation_id=f"tgbiz:{connection}:{chat_id}"[:500],
        name=None if agency else _name(sender),
        phones=() if agency else tuple(phones_in(words, delivery.region)[:1]),
        emails=() if agency else tuple(emails_in(words)[:1]),
        telegram_id=None if agency else chat_id, text=words, from_agency=agency,
        reply_to=None if agency else ReplyAddress(to=chat_id, thread={"business_connection_id": connection}),
    )
    return Translated(inquiry, answer)


def _name(sender: dict[str, Any]) -> str | None:
    parts = [text(sender.get("first_name")), text(sender.get("last_name"))]
    return " ".join(p for p in parts if p) or None
