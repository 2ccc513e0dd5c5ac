"""The outbox: a reply is a queued row of ``communication_messages`` before anybody is told 202.

Which channel answers a communication (``reply_channel``): the one registered
for its source's kind (daemon/runtime/reply_channels.py), else e-mail when the
inquiry gave an address (a Tilda or generic form, Jivo, the API). The address is
the communication's ``reply_to`` (the latest message's), copied onto the row
when it is queued, so a later message changes nothing of a reply already written.

``OutboxStore`` is the outbox's SQL (sql/queries/replies.sql) on one connection:
the API's enqueue, the projector's inbound and echoed messages, the sender's
claim and its three endings (sent, retry, failed), each fenced by the attempt.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import asyncpg

from config.settings import Settings, SourceSettings
from daemon.domain.identifiers import normalise_email
from daemon.domain.replies import ReplyAddress, ReplyChannel, by_email
from daemon.runtime.reply_channels import EMAIL, channel_for
from daemon.store.queries import q

API_KIND: Final = "api"  # a source no setting names: the API's own
PLACEHOLDER = re.compile(r"\{(name|manager|next_open)\}")


@dataclass(frozen=True)
class Target:
    """A communication as a reply sees it."""

    communication_id: int
    channel: str
    source: str | None
    address: ReplyAddress | None
    phone: str | None
    contact_id: int | None
    contact_name: str | None
    text: str | None
    started_at: datetime | None


@dataclass(frozen=True)
class Claimed:
    """One reply a sender holds for one attempt."""

    id: int
    communication_id: int
    kind: str
    text: str
    channel: str
    source: str
    address: ReplyAddress
    attempt: int
    maybe_delivered: bool


def source_settings(settings: Settings, name: str | None) -> SourceSettings:
    """The source's settings; the API's own (no setting) for a name none has."""
    found = settings.inquiries.sources.get(name or "")
    return found if found is not None else SourceSettings(kind=API_KIND)


def reply_channel(settings: Settings, target: Target) -> ReplyChannel | None:
    """The channel that answers ``target``, or None when it has no way back."""
    if target.source is None or target.address is None:
        return None
    channel = channel_for(source_settings(settings, target.source).kind)
    if channel is None and normalise_email(target.address.to) is not None:
        channel = channel_for(EMAIL)
    return channel


def sending_settings(settings: Settings, source: SourceSettings) -> SourceSettings:
    """The source as a channel sends through it: its own SMTP server and sender, else the global ones."""
    smtp = settings.smtp
    fallback_from = source.reply_from or (source.username if source.username and "@" in source.username else None)
    if source.smtp_host:
        return source.model_copy(update={"reply_from": fallback_from or settings.report.email_from})
    return source.model_copy(update={
        "smtp_host": smtp.host, "smtp_port": smtp.port, "smtp_security": smtp.security,
        "smtp_username": smtp.username, "smtp_password": smtp.password,
        "reply_from": fallback_from or settings.report.email_from,
    })


def fill(text: str, values: Mapping[str, str | None]) -> str:
    """``{name}``, ``{manager}`` and ``{next_open}`` filled in; other braces left as written."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1)) or "", text).strip()


def older_address(channel: str, conversation_key: str | None, email: str | None) -> ReplyAddress | None:
    """The way back of a communication filed before ``reply_to`` was kept (migration 0020): a
    Telegram chat (``tg:<chat>``) or VK dialogue (``vk:<group>:<peer>``) from its conversation,
    else the e-mail it gave (unthreaded)."""
    key = conversation_key or ""
    if channel == "telegram" and key.startswith("tg:") and len(key) > 3:
        return ReplyAddress(to=key[3:500])
    if channel == "vk" and key.startswith("vk:") and key.count(":") == 2 and key.rsplit(":", 1)[1]:
        return ReplyAddress(to=key.rsplit(":", 1)[1][:500])
    return by_email(email) if channel != "call" else None


def _address(raw: Any) -> ReplyAddress | None:
    if raw is None:
        return None
    return ReplyAddress.model_validate(json.loads(raw) if isinstance(raw, str) else raw)


class OutboxStore:
    def __init__(self, conn: asyncpg.Connection | asyncpg.Pool) -> None:
        self.conn = conn

    async def target(self, communication_id: int) -> Target | None:
        row = await self.conn.fetchrow(q("reply_target"), communication_id)
        if row is None:
            return None
        address = _address(row["reply_to"]) or older_address(row["channel"], row["conversation_key"], row["email"])
        return Target(row["id"], row["channel"], row["source"], address, row["phone"],
                      row["contact_id"], row["contact_name"], row["text"], row["started_at"])

    async def manager_name(self, extension: str | None) -> str | None:
        return await self.conn.fetchval(q("manager_name"), extension) if extension else None

    async def enqueue(self, *, target: Target, channel: str, kind: str, text: str, extension: str | None,
                      idempotency_key: str | None) -> tuple[int, str, bool]:
        """(message id, status, new): a repeated idempotency key gives the first message back."""
        assert target.address is not None
        values = {"communication_id": target.communication_id, "kind": kind, "text": text,
                  "extension": extension, "channel": channel, "source": target.source,
                  "address": target.address.model_dump(), "contact_id": target.contact_id,
                  "idempotency_key": idempotency_key}
        row = await self.conn.fetchrow(q("reply_enqueue"), json.dumps(values, ensure_ascii=False))
        if row is not None:
            return row["id"], row["status"], True
        row = await self.conn.fetchrow(q("reply_by_key"), target.communication_id, idempotency_key)
        assert row is not None  # the conflict was on this very key
        return row["id"], row["status"], False

    async def auto_reply_sent_since(self, contact_id: int | None, communication_id: int, seconds: float) -> bool:
        return bool(await self.conn.fetchval(q("auto_reply_sent_since"), contact_id, communication_id, seconds))

    async def elsewhere(self, communication_id: int, *, text: str, at: datetime, source: str,
                        provider_id: str | None) -> None:
        await self.conn.execute(q("message_insert_elsewhere"), communication_id, text, at, source, provider_id)

    async def is_our_reply(self, communication_id: int, *, our_id: str | None, provider_id: str | None) -> bool:
        if our_id is None and provider_id is None:
            return False
        return bool(await self.conn.fetchval(q("message_is_our_reply"), communication_id, our_id, provider_id))

    async def claim(self, *, limit: int, lease_s: float) -> list[Claimed]:
        rows = await self.conn.fetch(q("replies_claim"), limit, lease_s)
        return [Claimed(r["id"], r["communication_id"], r["kind"], r["text"], r["channel"], r["source"],
                        _address(r["address"]) or ReplyAddress(to="-"), r["attempts"], r["maybe_delivered"])
                for r in rows]

    async def sent(self, claimed: Claimed, *, provider_id: str | None, transcript: bool, max_chars: int) -> bool:
        """True when this attempt still held the message (its lease had not run out)."""
        return bool(await self.conn.fetchval(q("reply_sent"), claimed.id, claimed.attempt, provider_id,
                                             transcript, max_chars))

    async def retry(self, claimed: Claimed, *, after_s: float, reason: str, maybe_delivered: bool,
                    give_up_after_s: float) -> str | None:
        """The message's status afterwards: ``queued``, or ``failed`` past ``give_up_after_s``."""
        return await self.conn.fetchval(q("reply_retry"), claimed.id, claimed.attempt, after_s, reason[:500],
                                        maybe_delivered, give_up_after_s)

    async def failed(self, claimed: Claimed, *, reason: str) -> None:
        await self.conn.execute(q("reply_failed"), claimed.id, claimed.attempt, reason[:500])

    async def conversation(self, communication_id: int, *, limit: int) -> list[asyncpg.Record]:
        return await self.conn.fetch(q("conversation_messages"), communication_id, limit)
