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


def _opt(values: dict[str, Any] | None) -> str | None:
    return _json(values) if values is not None else None


def _who(rows: Sequence[asyncpg.Record]) -> Who:
    """``inquiry_who``'s rows: the holders, the agency's lines and the conversation's contact."""
    holders: dict[Identifier, Holder] = {}
    lines: set[str] = set()
    conversation: Holder | None = None
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


class InquiryStore:
    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def who(self, identifiers: Sequence[Identifier], conversation_contact_id: int | None) -> Who:
        """The holders of ``identifiers``, the agency's lines among them and the conversation's
        contact, in one round trip (``inquiry_who``)."""
        if not identifiers and conversation_contact_id is None:
            return Who({}, set(), None)
        rows = await self.conn.fetch(q("inquiry_who"), [i.kind for i in identifiers],
                                     [i.value for i in identifiers], None, None, None, None, conversation_contact_id)
        return _who(rows)

    async def open_conversation(self, source: str, key: str, at: datetime, idle_s: float) -> Conversation | None:
        row = await self.conn.fetchrow(q("inquiry_open_conversation"), source, key, at, idle_s)
        return Conversation(row["id"], row["entry_id"], row["contact_id"], row["lead_id"]) if row else None

    async def conversation_who(self, identifiers: Sequence[Identifier], *, source: str, key: str, at: datetime,
                               idle_s: float) -> tuple[Conversation | None, Who]:
        """``open_conversation`` and ``who`` (with that conversation's contact) in one round trip
        (``inquiry_who``): the identifiers' locks must be held already."""
        rows = await self.conn.fetch(q("inquiry_who"), [i.kind for i in identifiers],
                                     [i.value for i in identifiers], source, key, at, idle_s, None)
        conv = next((Conversation(r["thread_id"], r["created_by_entry_id"], r["contact_id"], r["thread_lead_id"])
                     for r in rows if r["role"] == "thread"), None)
        return conv, _who([r for r in rows if r["role"] != "thread"])

    async def create_contact(self, *, name: str | None, ad_source: str | None, entry_id: str,
                             identifiers: Sequence[Identifier] = ()) -> tuple[int, list[int]]:
        """A new contact with ``identifiers`` (one statement); its id, and the contacts that held
        any of them already (none under the identifiers' locks)."""
        row = await self.conn.fetchrow(q("inquiry_create_contact_with"), name, ad_source, entry_id,
                                       [i.kind for i in identifiers], [i.value for i in identifiers])
        return row["id"], list(row["owners"])

    async def fill_contact(self, contact_id: int, *, name: str | None, ad_source: str | None) -> None:
        await self.conn.execute(q("inquiry_fill_contact"), contact_id, name, ad_source)

    async def duplicate_hint(self, a: int, b: int, evidence: dict[str, Any]) -> None:
        await self.conn.execute(q("inquiry_duplicate_hint"), a, b, _json(evidence))

    async def insert_communication(self, *, message: dict[str, Any] | None = None,
                                   lead_stale_days: int | None = None, wish: dict[str, Any] | None = None,
                                   **values: Any) -> tuple[int, int | None]:
        """The communication and its lead's id; with ``message``, the customer's message in it; with
        ``lead_stale_days``, its contact's open lead joined or opened first (at its time, with its ad
        source); with ``wish``, laid over that lead's wish (one statement)."""
        row = await self.conn.fetchrow(q("inquiry_insert_communication"), _json(values), _opt(message),
                                       lead_stale_days, _opt(wish))
        return row["id"], row["lead_id"]

    async def append_message(self, *, max_chars: int, message: dict[str, Any] | None = None,
                             lead_stale_days: int | None = None, wish: dict[str, Any] | None = None,
                             **values: Any) -> int | None:
        """One more message of the conversation (with ``message``, ``lead_stale_days`` and ``wish`` as
        ``insert_communication``'s); the conversation's lead afterwards."""
        row = await self.conn.fetchrow(q("inquiry_append_message"), _json(values), max_chars, _opt(message),
                                       lead_stale_days, _opt(wish))
        return row["lead_id"] if row is not None else None

    async def add_identifiers(self, identifiers: Sequence[Identifier], contact_id: int) -> list[int]:
        """Give the contact these identifiers (one statement); the contacts that held any of them already."""
        rows = await self.conn.fetch(q("inquiry_add_identifiers"), [i.kind for i in identifiers],
                                     [i.value for i in identifiers], contact_id)
        return [r["contact_id"] for r in rows]

    async def relink(self, communication_id: int, contact_id: int, lead_id: int) -> None:
        """Point the communication at this contact and lead, if it does not already."""
        await self.conn.execute(q("inquiry_relink"), communication_id, contact_id, lead_id)

    async def add_referral(self, contact_id: int, referrer_id: int, communication_id: int) -> None:
        await self.conn.execute(q("inquiry_insert_referral"), contact_id, referrer_id, communication_id)
