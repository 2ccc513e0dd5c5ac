"""The event pipeline: dedup, then re-derive the call's communication, in one transaction.

Every event of a call is kept in the inbox, and the communication row is
re-derived from all of them each time one arrives (``daemon.domain.call_state``), so
the final row does not depend on delivery order or repeats. The links that
are created once (contact, lead, manager) are idempotent upserts guarded by
unique indexes and per-call / per-identifier advisory locks, so two events of one
call processed at the same moment, by one daemon or two, cannot race. The locks
are taken in one order (docs/ARCHITECTURE.md, "Locks"): the call and conversation
keys sorted, then every identifier key of the batch sorted, each in one call.

Events that are not a call's (an inquiry: a form, a chat, a message) go to the
projector registered for their kind (``Projector``), which also names the
identifier keys it will lock. The pipeline knows only that protocol: the
capability packages register theirs where the app is built
(daemon/runtime/connect.py), so the core imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import structlog

from daemon.domain.call_state import CallView, derive_call
from daemon.domain.events import Envelope
from daemon.domain.phones import line_key, normalise_phone
from daemon.store.repository import LEAD_STALE_DAYS, CallState, Repository, Tx

log = structlog.get_logger(__name__)

Outcome = Literal["stored", "duplicate"]
CALL_EVENT_KINDS = ("call_leg", "call_finished", "recording", "recording_stored")


@dataclass(frozen=True)
class Derived:
    """A call derived from its events, with the links its row already has."""

    view: CallView
    phone: str | None
    contact_id: int | None
    lead_id: int | None

    @property
    def phone_lock(self) -> str | None:
        """The lock taken before the caller's contact is looked up or made: a caller nobody
        linked yet, on a call from or to the outside."""
        if self.contact_id is None and self.phone is not None and self.view.direction in ("inbound", "outbound"):
            return f"phone:{self.phone}"
        return None


class Projector(Protocol):
    """What turns a stored event of one kind (``kind``: an ``Event.kind``) into its rows."""

    kind: str

    def lock_key(self, env: Envelope) -> str | None:
        """The advisory lock the event is applied under (taken with the inbox insert), or None."""

    def identifier_keys(self, env: Envelope) -> set[str]:
        """The identifier locks filing the event will take: the batch takes them all, sorted
        with the new callers' phones, before its first write."""

    async def project(self, tx: Tx, env: Envelope) -> None:
        """File the newly stored event, in the transaction that stored it."""


class Pipeline:
    def __init__(self, repo: Repository, *, region: str, projectors: Sequence[Projector] = (),
                 lead_stale_days: Callable[[], int] = lambda: LEAD_STALE_DAYS) -> None:
        self.repo = repo
        self.region = region
        # Forms, chats and messages: daemon/inquiries registers its projector (daemon/runtime/connect.py).
        self.projectors: dict[str, Projector] = {}
        for projector in projectors:
            self.register(projector)
        # Asked at each write, not copied at start: a reload (SIGHUP) changes it for calls
        # as it does for inquiries.
        self.lead_stale_days = lead_stale_days

    def register(self, projector: Projector) -> None:
        """Hand stored events of ``projector.kind`` to ``projector`` (one projector per kind)."""
        if projector.kind in self.projectors:
            raise ValueError(f"a projector for {projector.kind!r} events is registered already")
        self.projectors[projector.kind] = projector

    def lock_key(self, env: Envelope) -> str | None:
        """The advisory lock an event is applied under: its call's, else the one its projector
        names (an inquiry's conversation: messages of one chat are filed one at a time), else none."""
        if env.entry_id is not None:
            return f"entry:{env.entry_id}"
        projector = self.projectors.get(env.event.kind)
        return projector.lock_key(env) if projector is not None else None

    async def apply(self, env: Envelope) -> Outcome:
        """Make the event durable and apply it; a repeat is a no-op."""
        async with self.repo.transaction() as tx:
            key = self.lock_key(env)
            [outcome] = await self.write(tx, [env], lock_keys=[key] if key else [])
        return outcome

    async def write(self, tx: Tx, envs: Sequence[Envelope], *, lock_keys: Sequence[str]) -> list[Outcome]:
        """Events into the inbox and every call they change re-derived and stored, in the
        transaction; one outcome per event (a repeat, even of one earlier in ``envs``, is a
        duplicate). ``lock_keys`` (the events' call and conversation locks) are taken first.

        Two round trips however many calls and inquiries (``callbridge_ingest_v2``, then
        ``callbridge_store_calls_v2``: migration 0018); the other stored events (forms, chats,
        messages) are handed to their kind's projector after them, in the order given. The
        locks, in the one order: ``lock_keys`` (calls, conversations) with the first, then
        every identifier key of the batch (the new callers' phones, and the identifier keys
        each projector names for its events) with the second, before its first write.
        """
        inserted, states = await tx.ingest(envs, lock_keys=lock_keys, kinds=CALL_EVENT_KINDS)
        outcomes: list[Outcome] = []
        for env in envs:
            outcomes.append("stored" if env.dedup_key in inserted else "duplicate")
            inserted.discard(env.dedup_key)
        derived = [d for entry_id, state in states.items() if (d := self.derive(entry_id, state)) is not None]
        projected = [(projector, env) for env, outcome in zip(envs, outcomes, strict=True)
                     if outcome == "stored" and (projector := self.projectors.get(env.event.kind)) is not None]
        keys = {key for projector, env in projected for key in projector.identifier_keys(env)}
        if derived or not keys <= tx.held:
            await self.store_calls(tx, derived, lock_keys=keys)
        for projector, env in projected:
            await projector.project(tx, env)
        return outcomes

    async def refresh_call(self, tx: Tx, entry_id: str) -> CallView | None:
        """Derive the call again from its stored events and store it (the call's lock is the caller's)."""
        derived = self.derive(entry_id, await tx.call_state(entry_id, CALL_EVENT_KINDS))
        if derived is None:
            return None
        await self.store_calls(tx, [derived])
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

    async def store_calls(self, tx: Tx, calls: Sequence[Derived], *, lock_keys: Collection[str] = ()) -> None:
        """The calls' phone locks and ``lock_keys`` taken at once, links found or made, then
        the communication rows upserted: one round trip.

        An inbound caller nobody knows becomes a contact, and a contact without an
        open lead gets one, opened at the call's own time. An outbound call only
        joins what exists: managers also ring hotels, airlines and suppliers, who
        are not leads. Neither is made while the direction is a guess from a later
        leg (a transfer leg of an outbound call starts at the supplier): a contact
        made is kept. (``callbridge_store_calls_v2``, migration 0018.)
        """
        rows = [self._row(call) for call in calls]
        keys = sorted({lock for call in calls if (lock := call.phone_lock) is not None} | set(lock_keys))
        for entry_id, contact_id in await tx.store_calls(rows, lock_keys=keys, stale_days=self.lead_stale_days()):
            log.info("contact_created", entry_id=entry_id, contact_id=contact_id)

    def _row(self, call: Derived) -> dict[str, Any]:
        view = call.view
        return {
            "entry_id": view.entry_id, "direction": view.direction,
            "direction_certain": view.direction_certain, "status": view.status,
            "phone": call.phone, "phone_raw": view.customer_number,
            "contact_id": call.contact_id, "lead_id": call.lead_id,
            "manager_extension": view.manager_extension, "participants": list(view.participants),
            "line_number": view.line_number, "line_key": line_key(view.line_number, self.region),
            "started_at": view.started_at, "answered_at": view.answered_at, "ended_at": view.ended_at,
            "talk_seconds": view.talk_seconds, "recording_ids": list(view.recording_ids),
            "disconnect_reason": view.disconnect_reason, "finished": view.finished,
            "reconciled": view.reconciled,
        }
