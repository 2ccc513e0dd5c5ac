"""The event pipeline: dedup, then re-derive the call's communication, in one transaction.

Every event of a call is kept in the inbox, and the communication row is
re-derived from all of them each time one arrives (``daemon.callstate``), so
the final row does not depend on delivery order or repeats. The links that
are created once (contact, lead, manager) are idempotent upserts guarded by
unique indexes and per-call / per-phone advisory locks, so two events of one
call processed at the same moment, by one daemon or two, cannot race.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import structlog

from daemon.callstate import CallView, derive_call
from daemon.domain import CALL_EVENTS, Envelope, InquiryReceived
from daemon.inquiries.pipeline import InquiryPipeline, lock_key_of
from daemon.phones import line_key, normalise_phone
from daemon.repository import LEAD_STALE_DAYS, CallState, Repository, Tx

log = structlog.get_logger(__name__)

Outcome = Literal["stored", "duplicate"]
CALL_EVENT_KINDS = ("call_leg", "call_finished", "recording", "recording_stored")


@dataclass(frozen=True)
class Links:
    contact_id: int | None
    lead_id: int | None
    # The contact and lead this call made earlier, to be given facts learnt since.
    fill_contact_id: int | None = None
    fill_lead_id: int | None = None


@dataclass(frozen=True)
class Derived:
    """A call derived from its events, with the links its row already has."""

    view: CallView
    phone: str | None
    contact_id: int | None
    lead_id: int | None

    @property
    def settled(self) -> bool:
        """The call already has its contact and its lead."""
        return self.contact_id is not None and self.lead_id is not None

    @property
    def phone_lock(self) -> str | None:
        """The lock ``store_call`` takes before it looks up or makes the caller's contact."""
        return f"phone:{self.phone}" if needs_phone_lock(self.view, self.phone, self.contact_id) else None


@dataclass
class Lookups:
    """A batch's lookups, made at once: phone -> its contact (None: nobody's), line key -> ad source."""

    contacts: dict[str, int | None]
    ad_sources: dict[str, str | None]


def needs_phone_lock(view: CallView, phone: str | None, contact_id: int | None) -> bool:
    return contact_id is None and phone is not None and view.direction in ("inbound", "outbound")


class Pipeline:
    def __init__(self, repo: Repository, *, region: str, inquiries: InquiryPipeline | None = None,
                 lead_stale_days: int = LEAD_STALE_DAYS) -> None:
        self.repo = repo
        self.region = region
        self.inquiries = inquiries  # files forms, chats and messages (daemon/inquiries)
        self.lead_stale_days = lead_stale_days

    async def apply(self, env: Envelope) -> Outcome:
        """Make the event durable and apply it; a repeat is a no-op."""
        async with self.repo.transaction() as tx:
            lock_key = f"entry:{env.entry_id}" if env.entry_id is not None else lock_key_of(env)
            if not await tx.insert_inbox(env, lock_key=lock_key):
                return "duplicate"
            if isinstance(env.event, CALL_EVENTS) and env.entry_id is not None:
                await self.refresh_call(tx, env.entry_id)
            elif isinstance(env.event, InquiryReceived) and self.inquiries is not None:
                await self.inquiries.file(tx, env.event)
        return "stored"

    async def refresh_call(self, tx: Tx, entry_id: str) -> CallView | None:
        # Round trips are most of an event's cost: the events and the stored
        # links come in one, and managers and fills go with the upsert. Once the
        # call has its contact and lead, only the upsert needs the line's ad
        # source, and it looks that up itself.
        derived = self.derive(entry_id, await tx.call_state(entry_id, CALL_EVENT_KINDS))
        if derived is None:
            return None
        await self.store_call(tx, derived)
        return derived.view

    def derive(self, entry_id: str, state: CallState) -> Derived | None:
        """The call's view from its stored events; None for a pruned call (leave its row be)."""
        events, contact_id, lead_id, pruned = state
        if pruned:
            # Retention pruned this finished call's events: its row is final. The
            # late event is kept in the inbox, but deriving the call from the few
            # events left would make the row worse.
            log.info("call_event_after_prune_kept", entry_id=entry_id)
            return None
        view = derive_call(entry_id, events)
        return Derived(view, normalise_phone(view.customer_number, self.region), contact_id, lead_id)

    async def store_call(self, tx: Tx, derived: Derived) -> None:
        """Links found or made, then the communication row upserted."""
        await tx.upsert_communication(**await self.communication(tx, derived))

    async def lookups(self, tx: Tx, calls: list[Derived]) -> Lookups:
        """The contacts of the new callers' phones and the ad sources of the unsettled calls'
        lines, for a whole batch in one round trip. Call it after the phone locks: the
        contacts read here are then the ones ``_links`` would have read one by one."""
        phones = sorted({c.phone for c in calls if c.phone is not None and c.phone_lock is not None})
        keys = sorted({k for c in calls if not c.settled
                       and (k := line_key(c.view.line_number, self.region)) is not None})
        if not phones and not keys:
            return Lookups({}, {})
        contacts, ad_sources = await tx.batch_lookups(phones, keys)
        return Lookups({p: contacts.get(p) for p in phones}, {k: ad_sources.get(k) for k in keys})

    async def communication(self, tx: Tx, derived: Derived, *, phone_locked: bool = False,
                            lookups: Lookups | None = None) -> dict[str, Any]:
        """The communication row's values (``Tx.upsert_communication``'s arguments), links found or made.

        A call that has its contact and lead costs no round trip here.
        ``phone_locked``: the caller already holds the phone's lock (a batch takes
        all its phones' locks at once, in order: see ``daemon.groupcommit``).
        ``lookups``: what the batch looked up at once (``lookups``); kept up to date
        here when a contact is made, for the batch's later calls from that phone.
        """
        view, phone, contact_id, lead_id = derived.view, derived.phone, derived.contact_id, derived.lead_id
        entry_id = view.entry_id
        key = line_key(view.line_number, self.region)
        settled = contact_id is not None and lead_id is not None
        if settled:
            ad_source = None
        elif lookups is not None and key in lookups.ad_sources:
            ad_source = lookups.ad_sources[key]
        else:
            ad_source = await tx.ad_source_for_line(key)
        links = await self._links(tx, view, phone, ad_source, Links(contact_id, lead_id), phone_locked=phone_locked,
                                  lookups=lookups)
        return dict(
            entry_id=entry_id,
            direction=view.direction,
            status=view.status,
            phone=phone,
            phone_raw=view.customer_number,
            contact_id=links.contact_id,
            lead_id=links.lead_id,
            fill_contact_id=links.fill_contact_id,
            fill_lead_id=links.fill_lead_id,
            manager_extension=view.manager_extension,
            participants=view.participants,
            line_number=view.line_number,
            ad_source=ad_source,
            ad_source_known=not settled,
            line_key=key,
            started_at=view.started_at,
            answered_at=view.answered_at,
            ended_at=view.ended_at,
            talk_seconds=view.talk_seconds,
            recording_ids=view.recording_ids,
            disconnect_reason=view.disconnect_reason,
            finished=view.finished,
            reconciled=view.reconciled,
        )

    async def _links(self, tx: Tx, view: CallView, phone: str | None, ad_source: str | None,
                     current: Links, *, phone_locked: bool = False, lookups: Lookups | None = None) -> Links:
        """Contact and lead of the call: found or made once, then kept.

        An inbound caller nobody knows becomes a contact, and a contact without
        an open lead gets one. An outbound call only joins what exists: managers
        also ring hotels, airlines and suppliers, who are not leads. Neither is
        made while the direction is a guess from a later leg (a transfer leg of
        an outbound call starts at the supplier): a contact made is kept.
        """
        contact_id, lead_id = current.contact_id, current.lead_id
        fill_contact_id = fill_lead_id = None
        inbound = view.direction == "inbound" and view.direction_certain
        if phone is not None and needs_phone_lock(view, phone, contact_id):
            if not phone_locked:
                await tx.lock(f"phone:{phone}")
            if lookups is not None and phone in lookups.contacts:
                contact_id = lookups.contacts[phone]
            else:
                contact_id = await tx.contact_id_by_phone(phone)
            if contact_id is None and inbound:
                contact_id = await tx.create_contact_for_phone(phone, ad_source, view.entry_id)
                log.info("contact_created", contact_id=contact_id, ad_source=ad_source)
                if lookups is not None:
                    lookups.contacts[phone] = contact_id
        elif contact_id is not None:
            fill_contact_id = contact_id
        if contact_id is not None and lead_id is None:
            # The lead's clock is the call's own time, so a late delivery counts on its day.
            at = None if view.started_at is None else datetime.fromtimestamp(view.started_at, UTC)
            if inbound:
                lead_id = await tx.open_lead(
                    contact_id, ad_source=ad_source, line_number=view.line_number, entry_id=view.entry_id,
                    at=at, stale_days=self.lead_stale_days,
                )
            else:
                lead_id = await tx.join_open_lead(contact_id, at=at, stale_days=self.lead_stale_days)
        elif lead_id is not None and inbound:
            fill_lead_id = lead_id
        return Links(contact_id=contact_id, lead_id=lead_id, fill_contact_id=fill_contact_id,
                     fill_lead_id=fill_lead_id)
