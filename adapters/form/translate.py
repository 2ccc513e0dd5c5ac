"""A generic form webhook: Bearer or ``?token=``, JSON / URL-encoded / multipart, alias keys."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.form import fields as f
from daemon.domain.delivery import (
    Delivery,
    Reply,
    Translated,
    content_hash,
    form_fields,
    lookup,
    require_token,
    text,
    utm_from_fields,
    utm_from_url,
    utm_present,
)
from daemon.domain.identifiers import normalise_email
from daemon.domain.inquiry import MAX_FORM_FIELDS, Inquiry, Referrer
from daemon.domain.phones import normalise_phone

ANSWER = Reply(200, {"ok": True})


def translate(delivery: Delivery) -> Translated:
    require_token(delivery)
    fields = form_fields(delivery)
    return Translated(form_inquiry(delivery, fields, channel="web_form",
                                   external_id=lookup(fields, f.EXTERNAL_ID)
                                   or text(delivery.headers.get("Idempotency-Key"))), ANSWER)


def form_inquiry(delivery: Delivery, fields: Mapping[str, Any], *, channel: str,
                 external_id: str | None) -> Inquiry:
    """The inquiry of a flat form; shared with Tilda, whose fields are named by the site owner."""
    phone = text(lookup(fields, f.PHONE))
    email = text(lookup(fields, f.EMAIL))
    message = lookup(fields, f.TEXT)
    page_url = text(lookup(fields, f.PAGE_URL)) or text(delivery.headers.get("Referer"))
    utm = utm_from_fields(fields)
    if not utm_present(utm):
        utm = utm_from_url(page_url)
    if external_id is None:
        external_id = content_hash(delivery.source, normalise_phone(phone or "", delivery.region) or phone,
                                   normalise_email(email) or email, message)
    referrer = Referrer(name=text(lookup(fields, f.REFERRER_NAME)), phone=text(lookup(fields, f.REFERRER_PHONE)),
                        email=text(lookup(fields, f.REFERRER_EMAIL)))
    return Inquiry(
        channel=channel,  # type: ignore[arg-type]
        source=delivery.source,
        external_id=external_id[:500],
        received_at=delivery.received_at,
        name=text(lookup(fields, f.NAME)),
        phones=(phone,) if phone else (),
        emails=(email,) if email else (),
        text=text(message, limit=None),
        page_url=page_url,
        utm=utm,
        referrer=referrer if (referrer.phone or referrer.email) else None,
        fields=other_fields(fields),
    )


# Every alias the inquiry above takes, and what senders add that is no one's words.
TAKEN = frozenset(f.NAME + f.PHONE + f.EMAIL + f.TEXT + f.PAGE_URL + f.EXTERNAL_ID + f.REFERRER_NAME
                  + f.REFERRER_PHONE + f.REFERRER_EMAIL + ("tranid", "formid", "cookies", "token", "test"))


def other_fields(fields: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """The form's fields no part of the inquiry took («Страна», «Взрослых»…), as text, in the form's order.

    A nested object (a tour-search module's ``tour: {country, adults…}``) gives its own
    fields, named ``tour.country``; deeper levels and lists are no one's words.
    """
    found: list[tuple[str, str]] = []
    for key, value in fields.items():
        name = str(key).strip()
        if name.lower() in TAKEN or name.lower().startswith("utm_"):
            continue
        inner = value.items() if isinstance(value, dict) else [(None, value)]
        for sub, item in inner:
            if (words := text(item)) is not None:
                found.append(((f"{name}.{sub}" if sub is not None else name)[:100], words))
            if len(found) == MAX_FORM_FIELDS:
                return tuple(found)
    return tuple(found)
