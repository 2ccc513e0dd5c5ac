"""Green-API: ``Authorization`` carries the instance's ``webhookUrlToken`` (our secret), as
``Bearer <t>`` or bare (Green-API does not say which; ``?token=`` is accepted too).

``incomingMessageReceived`` from a private chat (``<digits>@c.us``: the phone) is an
inquiry: a text, an extended text, a file's caption, or a shared contact card (a
SECOND person: its number and name go into the text, never the sender's phone or
name). Group chats (``@g.us``) are not inquiries. ``outgoingMessageReceived`` (sent
from the phone) and ``outgoingAPIMessageReceived`` (our reply, echoed) are the
agency's side of the chat: they answer it. ``outgoingMessageStatus`` is the state of
one of our replies. An ``idMessage`` is unique only within its chat, so the dedup
key is ``<idInstance>:<chatId>:<idMessage>``; the conversation is
``greenapi:<idInstance>:<chatId>``. Instance states and the rest: answered, not filed.
"""

from __future__ import annotations

from typing import Any

from daemon.domain.delivery import Delivery, Malformed, Reply, Translated, bearer, epoch, obj, signed_object, text
from daemon.domain.events import ReplyStatusReported
from daemon.domain.inquiry import Inquiry
from daemon.domain.replies import ReplyAddress
from daemon.domain.textscan import emails_in
from daemon.domain.vcard import vcard_name, vcard_phones

ANSWER = Reply(200, None)
PRIVATE_CHAT = "@c.us"
OUTGOING = ("outgoingMessageReceived", "outgoingAPIMessageReceived")


def translate(delivery: Delivery) -> Translated:
    # Bearer or bare: Green-API does not say which.
    note = signed_object(delivery, bearer(delivery.headers), delivery.headers.get("Authorization", "").strip(),
                         delivery.query.get("token"), what="Authorization token")
    kind = text(note.get("typeWebhook"))
    if kind is None:
        raise Malformed("typeWebhook is missing")
    if kind == "outgoingMessageStatus":
        return Translated(None, ANSWER, statuses=_status(note))
    if kind != "incomingMessageReceived" and kind not in OUTGOING:
        return Translated(None, ANSWER)  # instance states, calls: nothing to file
    chat_id = text(obj(note.get("senderData")).get("chatId"))
    if chat_id is None:
        raise Malformed("senderData.chatId is required: the way to reply")
    if not chat_id.endswith(PRIVATE_CHAT):
        return Translated(None, ANSWER)  # a group chat: not one person's inquiry
    return Translated(_inquiry(delivery, note, chat_id, agency=kind in OUTGOING), ANSWER)


def _inquiry(delivery: Delivery, note: dict[str, Any], chat_id: str, *, agency: bool) -> Inquiry:
    instance = text(obj(note.get("instanceData")).get("idInstance")) or "-"
    message_id = text(note.get("idMessage"))
    if message_id is None:
        raise Malformed("idMessage is required: the dedup key")
    sender = obj(note.get("senderData"))
    words = _text(obj(note.get("messageData")))
    return Inquiry(
        channel="whatsapp", source=delivery.source, external_id=f"{instance}:{chat_id}:{message_id}"[:500],
        received_at=epoch(note.get("timestamp"), default=delivery.received_at),
        conversation_id=f"greenapi:{instance}:{chat_id}"[:500],
        name=None if agency else text(sender.get("senderContactName")) or text(sender.get("senderName")),
        phones=() if agency else ("+" + chat_id.removesuffix(PRIVATE_CHAT),),
        emails=() if agency else tuple(emails_in(words)[:1]), text=words, from_agency=agency,
        # Our own reply echoed names the provider id our send got (adapters/greenapi/reply.py).
        reply_to=ReplyAddress(to=chat_id, thread={"message_id": f"{instance}:{chat_id}:{message_id}"} if agency
                              else {"id_instance": instance}),
    )


def _text(data: dict[str, Any]) -> str | None:
    kind = text(data.get("typeMessage"))
    if kind == "textMessage":
        return text(obj(data.get("textMessageData")).get("textMessage"), limit=None)
    if kind in ("extendedTextMessage", "quotedMessage"):
        return text(obj(data.get("extendedTextMessageData")).get("text"), limit=None)
    if kind == "contactMessage":
        card = obj(data.get("contactMessageData"))
        vcard = text(card.get("vcard"), limit=None)
        who = text(card.get("displayName")) or vcard_name(vcard) or "?"
        return f"Контакт: {who}, " + (", ".join(vcard_phones(vcard)) or "без номера")
    file = obj(data.get("fileMessageData"))
    return text(file.get("caption"), limit=None) or (f"[{kind}] {text(file.get('downloadUrl'))}" if file else None)


def _status(note: dict[str, Any]) -> tuple[ReplyStatusReported, ...]:
    instance = text(obj(note.get("instanceData")).get("idInstance")) or "-"
    message_id, status, chat_id = text(note.get("idMessage")), text(note.get("status")), text(note.get("chatId"))
    if message_id is None or status is None:
        return ()
    # The provider id the reply channel gave the outbox for this message.
    provider_id = f"{instance}:{chat_id or '-'}:{message_id}"
    return (ReplyStatusReported(provider_id=provider_id[:500], status=status[:50],
                                at=int(note["timestamp"]) if isinstance(note.get("timestamp"), int) else None,
                                detail=text(note.get("description"))),)
