"""A reply to a customer, in vendor-neutral words: what the outbox hands a channel, and what comes back.

The outbox (daemon/inquiries/outbox*) keeps every reply durable before it is sent
and hands it, once per attempt, to the ``ReplyChannel`` registered for its
source's kind (``adapters/<sender>/reply.py``). The channel speaks the provider's
API and answers in these words only, so the outbox decides alone what happens
next: ``Delivered`` ends it, ``RetryLater`` is tried again (after ``after_s``
when the provider named a time), ``Refused`` marks the message failed with the
provider's reason (a blocked bot, an unknown chat).

Where a reply goes comes from the inquiry itself: an adapter fills
``Inquiry.reply_to`` (``ReplyAddress``) with the recipient in the channel's own
terms and whatever else the provider needs to thread the answer; the inquiry
projector keeps it with the conversation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, ConfigDict, Field

from daemon.domain.identifiers import normalise_email

if TYPE_CHECKING:
    import aiohttp

    from config.settings import SourceSettings


class ReplyAddress(BaseModel):
    """Where and how to answer a conversation.

    ``to`` is the recipient as the provider names it: a Telegram ``chat_id``, a VK
    ``peer_id``, an e-mail address, a MAX ``user_id``, a WhatsApp ``chatId``, an
    Avito chat id. ``thread`` carries the provider's other fields: for e-mail the
    ``message_id`` answered, its ``references`` and ``subject``; a Telegram
    Business ``business_connection_id``; a Wazzup ``channel_id`` and ``chat_type``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    to: str = Field(min_length=1, max_length=500)
    thread: dict[str, str] = Field(default_factory=dict)


def by_email(raw: str | None, **thread: str | None) -> ReplyAddress | None:
    """An answer by e-mail to ``raw`` (a form's or a chat's e-mail field), None when it is no address."""
    address = normalise_email(raw)
    if address is None:
        return None
    return ReplyAddress(to=address, thread={k: v for k, v in thread.items() if v})


@dataclass(frozen=True)
class OutgoingReply:
    """One attempt to send one reply.

    ``message_id`` is the outbox's own id of the message, the same on every attempt:
    a provider that takes an idempotency key (VK ``random_id``, Wazzup
    ``crmMessageId``) gets it, so a retry after a lost answer is never delivered twice.
    """

    message_id: int
    channel: str
    source: str
    address: ReplyAddress
    text: str
    attempt: int = 1
    extras: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivered:
    """The provider took the message; its own id for it, when it gave one."""

    provider_id: str | None = None


@dataclass(frozen=True)
class RetryLater:
    """Not sent this time: the provider asked to wait (429), failed (5xx) or did not answer.

    ``maybe_delivered`` is True when the request may have reached the provider
    (a timeout after sending): a retry to a provider without an idempotency key
    may then deliver the message twice, which the outbox counts.
    """

    reason: str
    after_s: float | None = None
    maybe_delivered: bool = False


@dataclass(frozen=True)
class Refused:
    """The provider refused the message for good (a blocked bot, a bad token, an unknown chat)."""

    reason: str


SendOutcome = Delivered | RetryLater | Refused


class ReplyChannel(Protocol):
    """What sends replies for the sources of one kind (``SourceSettings.kind``)."""

    kind: str
    # The longest text the provider takes, in characters: a longer reply is a 400 before it is queued.
    max_chars: int
    # True when the provider drops a repeat of ``OutgoingReply.message_id``.
    idempotent: bool
    # A channel whose provider limits its requests also has ``requests_per_s`` (per source): the
    # outbox reserves each send's slot in PostgreSQL, so every daemon together keeps to it
    # (``paced_rate``).

    async def send(self, session: aiohttp.ClientSession, source: SourceSettings,
                   reply: OutgoingReply) -> SendOutcome:
        """One attempt; never raises for the provider's answers, only for a bug."""


def paced_rate(channel: ReplyChannel) -> float | None:
    """The provider's request limit per source, if the channel has one (``requests_per_s``)."""
    rate = getattr(channel, "requests_per_s", None)
    return float(rate) if rate else None
