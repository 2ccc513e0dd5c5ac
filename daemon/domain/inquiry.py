"""The one inquiry model every sender's adapter translates into.

An adapter in ``adapters/<sender>/`` knows its sender's words; nothing after
it does. The pipeline stores the raw request verbatim beside this model,
finds or makes the contact by the identifiers, and joins or opens a lead.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from daemon.domain.replies import ReplyAddress

Channel = Literal["call", "web_form", "chat", "telegram", "vk", "email", "api", "max", "whatsapp", "avito",
                  "instagram", "viber"]
MAX_TEXT_CHARS = 100_000  # a transcript or an e-mail body; longer is cut, never refused
MAX_FORM_FIELDS = 50  # a form's other named fields kept; a tour request has a dozen


class Utm(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str | None = None
    medium: str | None = None
    campaign: str | None = None
    content: str | None = None
    term: str | None = None


class Referrer(BaseModel):
    """Who recommended us («Реклама — Рекомендация»): found by identifier, or made."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str | None = None
    phone: str | None = None
    email: str | None = None


class Inquiry(BaseModel):
    """One message or form from one person, in vendor-neutral words.

    ``external_id`` is the sender's own stable id of this delivery (a form's
    lead id, a chat message id, an e-mail's Message-ID): with ``source`` it is
    the dedup key, so a redelivery is harmless. ``conversation_id`` groups the
    messages of one chat (Jivo chat id, Telegram chat, VK peer) into one
    communication while the conversation lasts. Identifiers are given as the
    sender wrote them; the pipeline canonicalises them (daemon.domain.identifiers)
    and keeps what is not valid as an invalid identifier.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel: Channel
    source: str = Field(min_length=1, max_length=100)
    external_id: str = Field(min_length=1, max_length=500)
    received_at: datetime
    conversation_id: str | None = None
    name: str | None = None
    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    telegram_id: str | None = None
    vk_id: str | None = None
    max_id: str | None = None
    avito_id: str | None = None
    instagram_id: str | None = None
    text: str | None = None
    page_url: str | None = None
    utm: Utm = Utm()
    referrer: Referrer | None = None
    # True for a message written by the agency's side (a manager's reply in a
    # chat): it joins the conversation but identifies nobody and opens no lead.
    from_agency: bool = False
    # How to answer this conversation through its channel (daemon/domain/replies.py);
    # None where the channel gives no way back (a form without an e-mail).
    reply_to: ReplyAddress | None = None
    # A form's other named fields, as sent («Страна», «Даты поездки», «adults»…): the ones
    # no part of the inquiry above took. What the tourist wants is read from them
    # (daemon/wishes/fields.py); none is stored on its own.
    fields: tuple[tuple[str, str], ...] = Field(default=(), max_length=MAX_FORM_FIELDS)
