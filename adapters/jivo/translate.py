"""Jivo: ``?token=`` in the URL (no signature is documented), one JSON event per POST.

Events of one chat (``widget_id`` + ``chat_id``) form one conversation. No
event id is documented, so the external id is ours: ``<chat_id>:<event_name>``,
``offline:<offline_message_id>``, ``call:<chat_id>:<status>``, and for
``client_updated`` the client id with the contact it gave. An event without
the id it is known by (an offline message without ``chat_id``) is still filed:
outside any conversation, and by a hash of its content when no id is left. Jivo sends no time
with most events, so the delivery time is used throughout (one clock for the
conversation's idle gap).
"""

from __future__ import annotations

from typing import Any

from daemon.domain.delivery import (
    Delivery,
    Malformed,
    Reply,
    Translated,
    content_hash,
    epoch,
    json_object,
    obj,
    objects,
    require_token,
    text,
)
from daemon.domain.inquiry import Inquiry, Utm
from daemon.domain.phones import normalise_phone
from daemon.domain.replies import by_email
from daemon.domain.textscan import emails_in, phones_in

ANSWER = Reply(200, {"result": "ok"})
CHAT_EVENTS = ("chat_accepted", "chat_updated", "chat_finished", "offline_message", "call_event")


def translate(delivery: Delivery) -> Translated:
    require_token(delivery, allow_bearer=False)
    event = json_object(delivery.body)
    name = text(event.get("event_name"))
    if name is None:
        raise Malformed("event_name is missing")
    if name == "client_updated":
        return Translated(_client_updated(delivery, event), ANSWER)
    if name not in CHAT_EVENTS:
        return Translated(None, ANSWER)  # client attributes, CRM events: nothing to file
    chat_id = text(event.get("chat_id"))
    widget = text(event.get("widget_id")) or "-"
    visitor = obj(event.get("visitor"))
    phones, emails = _contacts(visitor)
    message, replied_at, external_id = _content(name, event, delivery, phones, emails)
    notes: list[str] = []
    if chat_id is None:
        notes.append(f"chat_id is missing in {name}: filed outside any conversation")
    external_id = external_id or _chat_event_id(name, event, chat_id, visitor, phones, emails)
    if external_id is None:
        # Jivo documents no event id: the same delivery again has the same content.
        external_id = f"{name}:{content_hash(delivery.body.decode('utf-8', 'replace'))}"
        notes.append(f"no chat_id or offline_message_id in {name}: deduplicated by its content")
    page = obj(event.get("page"))
    inquiry = Inquiry(
        channel="chat", source=delivery.source, external_id=external_id[:500],
        received_at=delivery.received_at,
        conversation_id=f"jivo:{widget}:{chat_id}"[:500] if chat_id else None,
        name=text(visitor.get("name")), phones=tuple(phones), emails=tuple(emails), text=message,
        page_url=text(page.get("url")), utm=_utm(obj(event.get("session"))),
        reply_to=by_email(emails[0] if emails else None),  # the chat is answered by e-mail, if it gave one
    )
    return Translated(inquiry, ANSWER, replied_at=replied_at, notes=tuple(notes))


def _content(name: str, event: dict[str, Any], delivery: Delivery, phones: list[str], emails: list[str]
             ) -> tuple[str | None, int | None, str | None]:
    """(text, when an operator first wrote, the event's own external id) of one chat event;
    the phones and e-mails found in the text are added to ``phones`` and ``emails``."""
    message, replied_at, external_id = None, None, None
    if name == "chat_finished":
        message, said, replied_at = _transcript(event, delivery)
        phones += [p for p in phones_in(said, delivery.region) if p not in phones][:1]
        emails += [e for e in emails_in(said) if e not in emails][:1]
    elif name == "offline_message":
        message = text(event.get("message"), limit=None)
        phones += [p for p in phones_in(message, delivery.region) if p not in phones][:1]
        offline_id = text(event.get("offline_message_id"))
        external_id = f"offline:{offline_id}" if offline_id else None
    elif name == "call_event":
        call = obj(event.get("call"))
        phones += [p for p in [text(call.get("phone"))] if p and p not in phones]
        message = "Запрос обратного звонка" if text(call.get("type")) == "callback" else None
    return message, replied_at, external_id


def _chat_event_id(name: str, event: dict[str, Any], chat_id: str | None, visitor: dict[str, Any],
                   phones: list[str], emails: list[str]) -> str | None:
    """The external id of an event of chat ``chat_id`` (https://www.jivo.ru/docs/webhooks/); None without a chat."""
    if chat_id is None:
        return None
    if name == "call_event":
        return f"call:{chat_id}:{text(obj(event.get('call')).get('status')) or '-'}"
    if name == "chat_updated":
        # It repeats as the visitor fills in contacts: each new set is news.
        return f"{chat_id}:{name}:" + content_hash(text(visitor.get("name")), *phones, *emails)
    return f"{chat_id}:{name}"


def _contacts(visitor: dict[str, Any]) -> tuple[list[str], list[str]]:
    phone, email = text(visitor.get("phone")), text(visitor.get("email"))
    return ([phone] if phone else []), ([email] if email else [])


def _transcript(event: dict[str, Any], delivery: Delivery) -> tuple[str | None, str, int | None]:
    """(the transcript, what the visitor said, when an operator first wrote) of chat_finished."""
    messages = objects(obj(event.get("chat")).get("messages"))
    agents = {text(a.get("id")): text(a.get("name")) for a in objects(event.get("agents"))}
    visitor_name = text(obj(event.get("visitor")).get("name")) or "Посетитель"
    lines, said, replied_at = [], [], None
    for item in messages:
        if not (body := text(item.get("message"), limit=None)):
            continue
        if text(item.get("type")) == "agent":
            who = agents.get(text(item.get("agent_id"))) or "Оператор"
            at = epoch(item.get("timestamp"), default=delivery.received_at)
            replied_at = int(at.timestamp()) if replied_at is None else min(replied_at, int(at.timestamp()))
        else:
            who = visitor_name
            said.append(body)
        lines.append(f"{who}: {body}")
    return ("\n".join(lines) or None), "\n".join(said), replied_at


def _utm(session: dict[str, Any]) -> Utm:
    """``session.utm_json`` (keys without ``utm_``), else the ``source=..|medium=..`` string."""
    found = obj(session.get("utm_json"))
    if not found and (line := text(session.get("utm"), limit=None)):
        found = dict(part.partition("=")[::2] for part in line.split("|"))
    return Utm(**{key: text(found.get(key)) for key in ("source", "medium", "campaign", "content", "term")})


def _client_updated(delivery: Delivery, event: dict[str, Any]) -> Inquiry:
    """Contacts left outside a chat (a Jivo pop-up window): a form of sorts, no conversation."""
    visitor = obj(event.get("visitor"))
    phones, emails = _contacts(visitor)
    client = text(event.get("client_id")) or text(visitor.get("number")) or "-"
    if phones:
        what = normalise_phone(phones[0], delivery.region) or phones[0]
    else:
        what = emails[0] if emails else content_hash(text(visitor.get("name")))
    return Inquiry(
        channel="chat", source=delivery.source, external_id=f"client_updated:{client}:{what}"[:500],
        received_at=delivery.received_at, name=text(visitor.get("name")), phones=tuple(phones),
        emails=tuple(emails), text=text(visitor.get("description"), limit=None),
        reply_to=by_email(emails[0] if emails else None),
    )
