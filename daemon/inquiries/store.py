"""The inquiry pipeline's SQL (sql/queries/inquiries.sql), on the pipeline's transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from daemon.domain.identifiers import Identifier
from daemon.store.queries import q


@dataclass(frozen=True, slots=True)
class Holder:
    """A contact found by an identifier, and what decides whether it may be absorbed."""

    contact_id: int
    created_by_entry_id: str | None
    messenger_only: bool
    # Whether the contact has a name and an ad source already (then an inquiry fills in nothing).
    has_name: bool = False
    has_ad_source: bool = False


@dataclass(frozen=True, slots=True)
class Who:
    """What filing a message reads first (``InquiryStore.who``)."""

    holders: dict[Identifier, Holder]
    lines: set[str]  # the agency's own lines among the phones
    conversation: Holder | None  # the conversation's contact; None when gone or merged


@dataclass(frozen=True, slots=True)
class Conversation:
    id: int
    entry_id: str
    contact_id: int | None
    lead_id: int | None


def _json(values: dict[str, Any]) -> str:
    return json.dumps(values, ensure_ascii=False, default=_encode)


def _encode(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__}")


class InquiryStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def who(self, identifiers: Sequence[Identifier], conversation_contact_id: int | None) -> Who:
        """The holders of ``identifiers``, the agency's lines among them and the conversation's
        contact, in one round trip (``inquiry_who``)."""
        holders: dict[Identifier, Holder] = {}
        lines: set[str] = set()
        conversation: Holder | None = None
        if not identifiers and conversation_contact_id is None:
            return Who(holders, lines, conversation)
        rows = await self.conn.fetch(q("inquiry_who"), [i.kind for i in identifiers],
                                     [i.value for i in identifiers], conversation_contact_id)
        for r in rows:
            if r["role"] == "line":
                lines.add(r["value"])
                continue
            holder = Holder(r["contact_id"], r["created_by_entry_id"], r["messenger_only"],
                            has_name=r["has_name"], has_ad_source=r["has_ad_source"])
            if r["role"] == "holder":
                holders[Identifier(r["kind"], r["value"])] = holder
            elif r["merged_into"] is None:
                conversation = holder
        return Who(holders, lines, conversation)

    async def open_conversation(self, source: str, key: str, at: datetime, idle_s: float) -> Conversation | None:
        row = await self.conn.fetchrow(q("inquiry_open_conversation"), source, key, at, idle_s)
        return Conversation(row["id"], row["entry_id"], row["contact_id"], row["lead_id"]) if row else None

    async def create_contact(self, *, name: str | None, ad_source: str | None, entry_id: str) -> int:
        return await self.conn.fetchval(q("inquiry_create_contact"), name, ad_source, entry_id)

    async def fill_contact(self, contact_id: int, *, name: str | None, ad_source: str | None) -> None:
        await self.conn.execute(q("inquiry_fill_contact"), contact_id, name, ad_source)

    async def duplicate_hint(self, a: int, b: int, evidence: dict[str, Any]) -> None:
        await self.conn.execute(q("inquiry_duplicate_hint"), a, b, _json(evidence))

    async def insert_communication(self, *, message: dict[str, Any] | None = None, **values: Any) -> int:
        """The communication; with ``message``, the customer's message in it (one statement)."""
        return await self.conn.fetchval(q("inquiry_insert_communication"), _json(values),
                                        _json(message) if message is not None else None)

    async def append_message(self, *, max_chars: int, message: dict[str, Any] | None = None, **values: Any) -> None:
        """One more message of the conversation; with ``message``, the customer's message in it too."""
        await self.conn.execute(q("inquiry_append_message"), _json(values), max_chars,
                                _json(message) if message is not None else None)

    async def relink(self, communication_id: int, contact_id: int, lead_id: int) -> None:
        """Point the communication at this contact and lead, if it does not already."""
        await self.conn.execute(q("inquiry_relink"), communication_id, contact_id, lead_id)

    async def add_referral(self, contact_id: int, referrer_id: int, communication_id: int) -> None:
        await self.conn.execute(q("inquiry_insert_referral"), contact_id, referrer_id, communication_id)
