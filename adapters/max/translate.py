"""MAX Bot API: ``X-Max-Bot-Api-Secret`` (the ``secret`` of our subscription), one ``Update`` per POST.

``message_created`` from a user is an inquiry: the person is ``sender.user_id``
(identifier kind ``max``), the conversation the dialog (``recipient.chat_id``),
the dedup key the message's ``body.mid``. MAX gives a phone only as a shared
contact (an attachment ``contact`` whose ``vcf_info`` is a vCard, ``TEL`` without
"+"), trusted as the sender's own when its ``max_info`` (the official client's
``tam_info``) is the sender; else only a phone typed in the text. ``bot_started``
(a deep link ``max.ru/<bot>?start=<payload>``) is filed as ``/start <payload>``,
which ``[utm_sources]`` maps as Telegram's; it has no id, so its key is
``bot_started:<chat_id>:<user_id>:<timestamp>``. A message by a bot (ours, echoed)
joins the dialog as the agency's side. Every other update is answered 200 and
filed nowhere. Timestamps are milliseconds.
"""

from __future__ import annotations

from typing import Any

from daemon.domain.delivery import Delivery, Malformed, Reply, Translated, epoch, obj, objects, signed_object, text
from daemon.domain.inquiry import Inquiry
from daemon.domain.replies import ReplyAddress
from daemon.domain.textscan import emails_in, phones_in
from daemon.domain.vcard import vcard_phones

ANSWER = Reply(200, None)
SECRET_HEADER = "X-Max-Bot-Api-Secret"
MS_PER_S = 1000


def translate(delivery: Delivery) -> Translated:
    update = signed_object(delivery, delivery.headers.get(SECRET_HEADER), what=SECRET_HEADER)
    kind = text(update.get("update_type"))
    if kind == "message_created":
        return Translated(_message(delivery, update), ANSWER)
    if kind == "bot_started":
        return Translated(_started(delivery, update), ANSWER)
    if kind is None:
        raise Malformed("update_type is missing")
    return Translated(None, ANSWER)  # edits, callbacks, chat housekeeping: not inquiries


def _message(delivery: Delivery, update: dict[str, Any]) -> Inquiry:
    message = obj(update.get("message"))
    sender, recipient, body = obj(message.get("sender")), obj(message.get("recipient")), obj(message.get("body"))
    mid = text(body.get("mid"))
    if mid is None:
        raise Malformed("message.body.mid is required: the dedup key")
    user_id, chat_id = text(sender.get("user_id")), text(recipient.get("chat_id"))
    if user_id is None:
        raise Malformed("message.sender.user_id is required: the way to reply")
    words = text(body.get("text"), limit=None)
    agency = sender.get("is_bot") is True
    phones = [] if agency else _own_contact(body, user_id) + phones_in(words, delivery.region)[:1]
    return Inquiry(
        channel="max", source=delivery.source, external_id=mid[:500],
        received_at=_ms(message.get("timestamp") or update.get("timestamp"), delivery),
        conversation_id=f"max:{chat_id or user_id}"[:500], name=None if agency else _name(sender),
        phones=tuple(phones[:1]), emails=() if agency else tuple(emails_in(words)[:1]),
        max_id=None if agency else user_id, text=words, from_agency=agency,
        # The bot's own message names its mid, as our send was told (the outbox's echo check).
        reply_to=ReplyAddress(to=chat_id or user_id, thread={"message_id": mid}) if agency
        else _reply_to(user_id, chat_id),
    )


def _started(delivery: Delivery, update: dict[str, Any]) -> Inquiry:
    user = obj(update.get("user"))
    user_id, chat_id = text(user.get("user_id")), text(update.get("chat_id"))
    if user_id is None:
        raise Malformed("user.user_id is required: the way to reply")
    stamp = text(update.get("timestamp")) or "-"
    payload = text(update.get("payload"), limit=512)
    return Inquiry(
        channel="max", source=delivery.source, external_id=f"bot_started:{chat_id or '-'}:{user_id}:{stamp}",
        received_at=_ms(update.get("timestamp"), delivery), conversation_id=f"max:{chat_id or user_id}"[:500],
        name=_name(user), max_id=user_id, text=f"/start {payload}" if payload else "/start",
        reply_to=_reply_to(user_id, chat_id),
    )


def _own_contact(body: dict[str, Any], user_id: str) -> list[str]:
    """The phone of a contact the sender shared, when the card is the sender's own account."""
    for attachment in objects(body.get("attachments")):
        if text(attachment.get("type")) != "contact":
            continue
        payload = obj(attachment.get("payload"))
        owner = obj(payload.get("max_info")) or obj(payload.get("tam_info"))
        if owner and text(owner.get("user_id")) != user_id:
            continue  # someone else's card: not the sender's phone
        return vcard_phones(text(payload.get("vcf_info"), limit=None))[:1]
    return []


def _reply_to(user_id: str, chat_id: str | None) -> ReplyAddress:
    # POST /messages?user_id=: the person, whichever dialog; the chat kept for threading.
    return ReplyAddress(to=user_id, thread={"chat_id": chat_id} if chat_id else {})


def _name(user: dict[str, Any]) -> str | None:
    parts = [text(user.get("first_name")), text(user.get("last_name"))]
    return " ".join(p for p in parts if p) or text(user.get("name"))


def _ms(value: Any, delivery: Delivery) -> Any:
    seconds = value / MS_PER_S if isinstance(value, int | float) and not isinstance(value, bool) else None
    return epoch(seconds, default=delivery.received_at)
