"""The inquiry pipeline: one inquiry, one transaction, the same steps for every channel.

After the inbox took the raw request (dedup by source and external id), an
inquiry is filed: its identifiers are canonicalised; the contact is found by
any of them and given those it lacked; an identifier held by ANOTHER contact
merges nothing but proposes the pair as an ``identifier`` duplicate; a contact
is made when nobody matches and the inquiry gives a way to reply; the open
lead is joined or opened (``Tx.open_lead``) with the ad source.

One exception to "never merge": a contact known only by a messenger id, made
by this very conversation, is merged into the contact whose phone or e-mail
the conversation reveals (a journaled, undoable merge, ``merge_contacts``).

A chat's messages grow one communication while the conversation lasts (an
idle gap closes it): the new text is appended, never re-derived.

What the tourist wants is read from each message (and a form's fields) and laid over
the lead's wish, in the same transaction (daemon/inquiries/wish_step.py).

Locks, in the one order of docs/ARCHITECTURE.md: the conversation (taken with
the inbox insert), then the identifiers (``lock_keys``: the referrer's too, the
agency's own lines included) with every other identifier key of the batch, all
in one sorted call before the batch's first contact is looked up or made
(``Pipeline.write``); ``file`` only takes those not held yet. A phone's lock key
is the one the call pipeline takes, so a call and a form of one new number make
one contact.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from config.settings import Settings
from daemon.contacts.merge import merge_contacts
from daemon.domain.events import Envelope, InquiryReceived
from daemon.domain.identifiers import Identifier, InvalidIdentifier, Kind, parse_identifier
from daemon.domain.inquiry import MAX_TEXT_CHARS, Inquiry
from daemon.inquiries.autoreply import queue_auto_reply
from daemon.inquiries.outbox import OutboxStore
from daemon.inquiries.rules import REFERRAL_AD_SOURCE, ad_source_for, has_referrer
from daemon.inquiries.store import Conversation, Holder, InquiryStore
from daemon.inquiries.wish_step import message_wish, refine_lead_wish
from daemon.store.repository import Tx

log = structlog.get_logger(__name__)

STRENGTH: dict[str, int] = {"phone": 0, "email": 1, "telegram": 2, "vk": 3, "max": 4, "avito": 5, "instagram": 6}
MERGE_ACTOR = "inquiry-pipeline"
MergeContacts = Callable[..., Awaitable[Any]]


@dataclass(frozen=True)
class Filed:
    communication_id: int | None
    contact_id: int | None
    lead_id: int | None
    new_contact: bool
    unreachable: bool


def entry_id_of(inquiry: Inquiry) -> str:
    return f"inq:{inquiry.source}:{inquiry.external_id}"


def lock_key_of(env: Envelope) -> str | None:
    """The conversation's lock (messages of one chat are filed one at a time)."""
    if not isinstance(env.event, InquiryReceived):
        return None
    inquiry = env.event.inquiry
    if inquiry.conversation_id is None:
        return None
    return f"conversation:{inquiry.source}:{inquiry.conversation_id}"


def _lock_key(identifier: Identifier) -> str:
    """``phone:<e164>`` (the call pipeline's key), ``email:…``, ``telegram:…``, ``vk:…``, ``max:…``, ``avito:…``."""
    return f"{identifier.kind}:{identifier.value}"


def _unique(items: list[Holder]) -> list[Holder]:
    seen: dict[int, Holder] = {}
    for item in items:
        seen.setdefault(item.contact_id, item)
    return list(seen.values())


class InquiryPipeline:
    """The projector of ``inquiry`` events (``daemon.intake.pipeline.Projector``)."""

    kind = "inquiry"

    def __init__(self, *, region: str, settings: Callable[[], Settings],
                 merge: MergeContacts | None | bool = True, on_filed: Callable[[str, str], None] | None = None) -> None:
        self.region = region
        self._settings = settings  # the reloadable settings: read on every inquiry
        # True: daemon.contacts.merge.merge_contacts; False: never merge (propose only).
        self._merge = merge_contacts if merge is True else (merge or None)
        self._on_filed = on_filed

    def lock_keys(self, event: InquiryReceived) -> set[str]:
        """The identifier locks filing the inquiry takes (a superset: the agency's lines too)."""
        inquiry = event.inquiry
        if inquiry.from_agency:
            return set()
        return {_lock_key(i) for i in self._parsed(inquiry) + self._referrer_identifiers(inquiry)}
    def lock_key(self, env: Envelope) -> str | None:
        return lock_key_of(env)

    def identifier_keys(self, env: Envelope) -> set[str]:
        return self.lock_keys(env.event) if isinstance(env.event, InquiryReceived) else set()

    async def project(self, tx: Tx, env: Envelope) -> None:
        if isinstance(env.event, InquiryReceived):
            await self.file(tx, env.event)

    async def file(self, tx: Tx, event: InquiryReceived) -> Filed:
        """File one inquiry. A message is a few round trips, each doing as much as it can: the
        conversation with who holds its identifiers; a new contact with its identifiers; the lead,
        the communication and the wish (each round trip waits its turn on a busy machine)."""
        inquiry = event.inquiry
        store = InquiryStore(tx.conn)
        settings = self._settings()
        at = inquiry.received_at
        idle_s = settings.inquiries.conversation_idle_s
        replied_at = _epoch(event.replied_at) or (at if inquiry.from_agency else None)
        if inquiry.from_agency:
            conv = None
            if inquiry.conversation_id is not None:
                conv = await store.open_conversation(inquiry.source, inquiry.conversation_id, at, idle_s)
            return await self._agency_message(store, inquiry, conv, replied_at)
        parsed, invalid = self._parse(inquiry)
        referrer_ids = self._referrer_identifiers(inquiry)
        # The batch took them all in one sorted call (Pipeline.write); alone, here, at once
        # (the agency's own lines among them too: ``lock_keys``' superset).
        missing = {_lock_key(i) for i in parsed + referrer_ids} - tx.held
        if inquiry.conversation_id is not None and not missing:
            conv, who = await store.conversation_who(parsed, source=inquiry.source, key=inquiry.conversation_id,
                                                     at=at, idle_s=idle_s)
        else:
            conv = None
            if inquiry.conversation_id is not None:
                conv = await store.open_conversation(inquiry.source, inquiry.conversation_id, at, idle_s)
            if missing:
                await tx.lock_keys(sorted(missing))
            who = await store.who(parsed, conv.contact_id if conv is not None else None)
        entry_id = conv.entry_id if conv is not None else entry_id_of(inquiry)
        # The agency's own lines are never a client's identifier.
        identifiers = [i for i in parsed if not (i.kind == "phone" and i.value in who.lines)]
        holders = {i: h for i, h in who.holders.items() if i in identifiers}
        conv_holder = who.conversation
        primary, absorbed, others = self._choose(identifiers, holders, conv_holder, conv)
        ad_source = ad_source_for(inquiry, settings)
        new_contact = False
        contact_id: int | None
        if primary is None and identifiers:
            contact_id, owners = await store.create_contact(name=_clean(inquiry.name), ad_source=ad_source,
                                                            entry_id=entry_id, identifiers=identifiers)
            others.extend(Holder(owner, None, False) for owner in owners if owner != contact_id)
            new_contact = True
        else:
            contact_id = primary.contact_id if primary else None
        if contact_id is not None:
            await self._link(tx, store, inquiry, contact_id, [] if new_contact else identifiers, invalid,
                             holders, others, absorbed={h.contact_id for h in absorbed})
            name = _clean(inquiry.name)
            if not new_contact and primary is not None and _fills(primary, name=name, ad_source=ad_source):
                await store.fill_contact(contact_id, name=name, ad_source=ad_source)
        referrer_id = await self._referrer(store, inquiry, referrer_ids, entry_id, contact_id)
        # The customer's message goes into the conversation's messages with the communication
        # (one statement), on the contact it ends on.
        said = {"text": (inquiry.text or "")[:MAX_TEXT_CHARS], "at": inquiry.received_at, "source": inquiry.source,
                "contact_id": contact_id, "provider_id": inquiry.external_id}
        write = functools.partial(self._communication, store, inquiry, conv, entry_id=entry_id,
                                  identifiers=identifiers, ad_source=ad_source, replied_at=replied_at, said=said)
        says_something = bool(inquiry.text or inquiry.fields)
        lead_id: int | None = None
        if absorbed and contact_id is not None and conv is not None:
            # The message joins the conversation as it stands (the chat's own contact and
            # lead); the merge then moves the conversation, its lead and identifiers to the
            # survivor, so its journal sees the rows as this transaction leaves them.
            communication_id, _ = await write(contact_id=None)
            for holder in absorbed:
                await self._absorb(tx, contact_id, holder, inquiry)
            survivor_lead = await tx.open_lead(contact_id, ad_source=ad_source, line_number=None, entry_id=entry_id,
                                               at=inquiry.received_at, stale_days=settings.leads.stale_days)
            await store.relink(communication_id, contact_id, survivor_lead)
            if says_something:
                await refine_lead_wish(tx.conn, survivor_lead, text=inquiry.text, fields=inquiry.fields,
                                       communication_id=communication_id, at=inquiry.received_at)
            lead_id = survivor_lead
        elif contact_id is not None:
            # The contact's open lead (joined or opened), the communication on it and the wish it
            # says: one statement.
            wish = message_wish(inquiry.text, inquiry.fields, at=inquiry.received_at) if says_something else None
            communication_id, lead_id = await write(contact_id=contact_id, lead_stale_days=settings.leads.stale_days,
                                                    wish=wish)
        else:  # nobody to file it on: the communication alone, in the queue (unreachable)
            communication_id, _ = await write(contact_id=None)
        if referrer_id is not None and contact_id is not None:
            await store.add_referral(contact_id, referrer_id, communication_id)
        await self._auto_reply(tx, inquiry, communication_id, settings)
        outcome = "unreachable" if contact_id is None else ("new_contact" if new_contact else "known_contact")
        log.info("inquiry_filed", source=inquiry.source, external_id=inquiry.external_id, outcome=outcome,
                 contact_id=contact_id, lead_id=lead_id, communication_id=communication_id,
                 conversation=conv is not None, merged=[h.contact_id for h in absorbed])
        if self._on_filed is not None:
            self._on_filed(inquiry.channel, outcome)
        return Filed(communication_id, contact_id, lead_id, new_contact, contact_id is None)

    # -- steps ------------------------------------------------------------------
    async def _auto_reply(self, tx: Tx, inquiry: Inquiry, communication_id: int, settings: Settings) -> None:
        """The out-of-hours auto-reply to the customer's message (filed with the communication)."""
        outbox = OutboxStore(tx.conn)
        source = settings.inquiries.sources.get(inquiry.source)
        if source is not None and source.auto_reply:
            target = await outbox.target(communication_id)
            if target is not None:
                await queue_auto_reply(outbox, settings, target, at=inquiry.received_at)

    def _parsed(self, inquiry: Inquiry) -> list[Identifier]:
        return self._parse(inquiry)[0]

    def _parse(self, inquiry: Inquiry) -> tuple[list[Identifier], list[InvalidIdentifier]]:
        raw: list[tuple[Kind, str | None]] = [("phone", p) for p in inquiry.phones]
        raw += [("email", e) for e in inquiry.emails]
        raw += [("telegram", inquiry.telegram_id), ("vk", inquiry.vk_id), ("max", inquiry.max_id),
                ("avito", inquiry.avito_id), ("instagram", inquiry.instagram_id)]
        valid: list[Identifier] = []
        invalid: list[InvalidIdentifier] = []
        for kind, text in raw:
            found = parse_identifier(kind, text, region=self.region)
            if isinstance(found, Identifier) and found not in valid:
                valid.append(found)
            elif isinstance(found, InvalidIdentifier):
                invalid.append(found)
        return valid, invalid

    async def _link(self, tx: Tx, store: InquiryStore, inquiry: Inquiry, contact_id: int,
                    identifiers: list[Identifier], invalid: list[InvalidIdentifier],
                    holders: dict[Identifier, Holder], others: list[Holder], *, absorbed: set[int]) -> None:
        """Give the contact the identifiers nobody holds (one statement); propose the other holders as
        duplicates.

        Those of contacts about to be absorbed are left to the merge, which moves them.
        """
        unheld = [i for i in identifiers if i not in holders]
        if unheld:
            # Another holder cannot appear under the identifiers' locks; if one did, no merge.
            others.extend(Holder(owner, None, False) for owner in await store.add_identifiers(unheld, contact_id)
                          if owner != contact_id)
        for bad in invalid:
            await tx.add_invalid_identifier(contact_id, bad.kind, bad.value, bad.reason)
        for other in _unique(others):
            if other.contact_id != contact_id and other.contact_id not in absorbed:
                await store.duplicate_hint(contact_id, other.contact_id, _evidence(inquiry, holders, other))

    def _choose(self, identifiers: list[Identifier], holders: dict[Identifier, Holder],
                conv_holder: Holder | None, conv: Conversation | None
                ) -> tuple[Holder | None, list[Holder], list[Holder]]:
        """(primary contact, contacts to absorb into it, contacts to propose as duplicates)."""
        by_strength = [holders[i] for i in sorted(identifiers, key=lambda i: STRENGTH[i.kind]) if i in holders]
        everyone = _unique(([conv_holder] if conv_holder else []) + by_strength)
        if not everyone:
            return None, [], []

        def absorbable(h: Holder) -> bool:
            return (self._merge is not None and conv is not None and h.messenger_only
                    and h.created_by_entry_id == conv.entry_id)

        solid = [h for h in everyone if not absorbable(h)]
        if not solid:
            return everyone[0], [], everyone[1:]
        primary = conv_holder if conv_holder in solid else solid[0]
        absorbed = [h for h in everyone if absorbable(h)] if not primary.messenger_only else []
        others = [h for h in everyone if h is not primary and h not in absorbed]
        return primary, absorbed, others

    async def _absorb(self, tx: Tx, survivor_id: int, holder: Holder, inquiry: Inquiry) -> None:
        assert self._merge is not None
        await self._merge(tx, survivor_id=survivor_id, merged_ids=[holder.contact_id], actor=MERGE_ACTOR,
                          reason=f"conversation {inquiry.source}:{inquiry.conversation_id} revealed a phone "
                                 f"or e-mail of a known contact")
        log.info("messenger_contact_absorbed", survivor_id=survivor_id, merged_id=holder.contact_id)

    def _referrer_identifiers(self, inquiry: Inquiry) -> list[Identifier]:
        if not has_referrer(inquiry):
            return []
        ref = inquiry.referrer
        assert ref is not None
        found = [parse_identifier("phone", ref.phone, region=self.region), parse_identifier("email", ref.email)]
        return [i for i in found if isinstance(i, Identifier)]

    async def _referrer(self, store: InquiryStore, inquiry: Inquiry, identifiers: list[Identifier],
                        entry_id: str, contact_id: int | None) -> int | None:
        """The referrer's contact, found by identifier or made (its locks are already held)."""
        if not identifiers or contact_id is None:
            return None
        ref = inquiry.referrer
        assert ref is not None
        holders = (await store.who(identifiers, None)).holders
        referrer_id = next((holders[i].contact_id for i in identifiers if i in holders), None)
        unheld = [i for i in identifiers if i not in holders]
        if referrer_id is None:
            referrer_id, _ = await store.create_contact(name=_clean(ref.name), ad_source=None,
                                                        entry_id=f"{entry_id}:referrer", identifiers=unheld)
        elif unheld:
            await store.add_identifiers(unheld, referrer_id)
        return referrer_id if referrer_id != contact_id else None

    async def _communication(self, store: InquiryStore, inquiry: Inquiry, conv: Conversation | None, *,
                             entry_id: str, contact_id: int | None, identifiers: list[Identifier],
                             ad_source: str | None, replied_at: datetime | None, said: dict[str, Any],
                             lead_stale_days: int | None = None, wish: dict[str, Any] | None = None,
                             ) -> tuple[int, int | None]:
        """The communication (or the conversation's next message), with ``lead_stale_days`` and ``wish``
        as ``InquiryStore.insert_communication``'s; its id and lead."""
        phone = next((i.value for i in identifiers if i.kind == "phone"), None)
        email = next((i.value for i in identifiers if i.kind == "email"), None)
        utm = inquiry.utm.model_dump(exclude_none=True) or None
        text = (inquiry.text or "")[:MAX_TEXT_CHARS] or None
        common = {"contact_id": contact_id, "lead_id": None, "phone": phone, "email": email,
                  "ad_source": ad_source, "at": inquiry.received_at, "text": text, "utm": utm,
                  "page_url": inquiry.page_url, "replied_at": replied_at, "inbound": True,
                  "reply_to": inquiry.reply_to.model_dump() if inquiry.reply_to else None}
        if conv is not None:
            lead_id = await store.append_message(max_chars=MAX_TEXT_CHARS, id=conv.id, message=said,
                                                 lead_stale_days=lead_stale_days, wish=wish, **common)
            return conv.id, lead_id
        return await store.insert_communication(
            entry_id=entry_id, channel=inquiry.channel, source=inquiry.source, external_id=inquiry.external_id,
            conversation_key=inquiry.conversation_id, message=said, lead_stale_days=lead_stale_days, wish=wish,
            **common)

    async def _agency_message(self, store: InquiryStore, inquiry: Inquiry, conv: Conversation | None,
                              replied_at: datetime | None) -> Filed:
        """A manager's reply made elsewhere: it joins the conversation as a sent message and answers
        the inquiry (replied_at), identifies nobody, opens nothing. The outbox's own reply, echoed
        back by the channel, is already there: nothing is written twice.

        Arriving before the customer's message it answers (an echo delivered first, a
        manager writing first), it starts the conversation without a contact or lead: the
        customer's message then joins it and links them, so the order changes nothing.
        """
        thread = inquiry.reply_to.thread if inquiry.reply_to is not None else {}
        outbox = OutboxStore(store.conn)
        text = (inquiry.text or "")[:MAX_TEXT_CHARS]
        if conv is None:
            if inquiry.conversation_id is None:
                log.info("agency_message_without_conversation", source=inquiry.source)
                return Filed(None, None, None, False, False)
            communication_id, _ = await store.insert_communication(
                entry_id=entry_id_of(inquiry), channel=inquiry.channel, source=inquiry.source,
                external_id=inquiry.external_id, conversation_key=inquiry.conversation_id, contact_id=None,
                lead_id=None, phone=None, email=None, ad_source=None, at=inquiry.received_at,
                text=text or None, utm=None, page_url=None, replied_at=replied_at, reply_to=None, inbound=False)
            await outbox.elsewhere(communication_id, text=text, at=inquiry.received_at, source=inquiry.source,
                                   provider_id=thread.get("message_id") or inquiry.external_id)
            return Filed(communication_id, None, None, False, False)
        filed = Filed(conv.id, conv.contact_id, conv.lead_id, False, False)
        if await outbox.is_our_reply(conv.id, our_id=thread.get("random_id"), provider_id=thread.get("message_id")):
            log.info("own_reply_echoed", source=inquiry.source, communication_id=conv.id)
            return filed
        await store.append_message(max_chars=MAX_TEXT_CHARS, id=conv.id, contact_id=None, lead_id=None,
                                   phone=None, email=None, ad_source=None, at=inquiry.received_at,
                                   text=text or None, utm=None, page_url=None, replied_at=replied_at,
                                   reply_to=None, inbound=False)
        await outbox.elsewhere(conv.id, text=text, at=inquiry.received_at, source=inquiry.source,
                               provider_id=thread.get("message_id") or inquiry.external_id)
        return filed


def _fills(holder: Holder, *, name: str | None, ad_source: str | None) -> bool:
    """Whether the inquiry gives the contact a name or an ad source it lacks (else no UPDATE is sent)."""
    return (name is not None and not holder.has_name) or (ad_source is not None and not holder.has_ad_source)


def _clean(text: str | None) -> str | None:
    text = (text or "").strip()
    return text[:200] or None


def _epoch(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value is not None else None


def _evidence(inquiry: Inquiry, holders: dict[Identifier, Holder], other: Holder) -> dict[str, Any]:
    """What the duplicate hint shows: which inquiry, and which of its identifiers the other holds."""
    held = [{"kind": i.kind, "value": i.value} for i, h in holders.items() if h.contact_id == other.contact_id]
    return {"inquiry": {"source": inquiry.source, "external_id": inquiry.external_id,
                        "channel": inquiry.channel}, "identifiers": held}


__all__ = ["REFERRAL_AD_SOURCE", "Filed", "InquiryPipeline", "entry_id_of", "lock_key_of"]
