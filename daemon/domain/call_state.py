"""What a call is, derived from the set of its events.

``derive_call`` is a pure function of the *set* of a call's events: it sorts
them into a canonical order first and combines them with min/max/union, so any
delivery order, with or without duplicates, gives the same answer. The PBX's
summary, when present, is its final word and wins over what the legs suggest.

Until the summary comes, the legs are partial evidence, and the rules are
written for it (docs/ARCHITECTURE.md, "Rules the derivation applies"):
* only a leg at an employee (``abonent``) that connects is a conversation; a
  queue, IVR or voicemail leg that connects is the PBX playing something;
* the PBX ringing an employee for a callback (a leg that results from a command
  and continues no other leg) is not a conversation, and makes the call outbound;
* the direction comes from the call's first leg, never from a later one (a
  transfer leg of an outbound call starts at the customer); when that first
  leg has not arrived, the direction is a guess (``direction_certain`` False)
  on which no contact or lead may be made;
* a leg handing the caller on (IVR or queue, reason 1100) ends the call only
  when the leg it handed to has ended too, whatever the one-second timestamps say.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from daemon.domain.events import (
    CallFinished,
    CallLegChanged,
    Direction,
    RecordingChanged,
    RecordingStored,
)
from daemon.domain.legs import (
    Leg,
    direction_from_legs,
    finished_by_legs,
    fold_leg,
    last_ended,
    legs_of,
)

__all__ = ["CallView", "Leg", "derive_call", "fold_leg"]  # Leg and fold_leg: the screen reads legs too

RECORDING_SAVED_CLASS = 1000
# communications.talk_seconds is a PostgreSQL integer; only nonsense timestamps
# (which the adapter lets through up to year 9999) make a call last longer.
MAX_TALK_SECONDS = 2**31 - 1


@dataclass(frozen=True)
class CallView:
    entry_id: str
    direction: Direction | None
    status: str
    customer_number: str | None
    line_number: str | None
    manager_extension: str | None
    participants: tuple[str, ...]
    started_at: int | None
    answered_at: int | None
    ended_at: int | None
    talk_seconds: int
    recording_ids: tuple[str, ...]
    disconnect_reason: int | None
    finished: bool
    reconciled: bool
    # False while the call's first leg (and the summary) are still missing: the
    # direction is then read off a later leg and may be wrong, so nothing that
    # cannot be undone (a new contact, a new lead) may follow from it.
    direction_certain: bool = True


def _customer_number(direction: Direction | None, summary: CallFinished | None, legs: list[Leg]) -> str | None:
    # The legs in the order they began: the first leg's outside party is the customer.
    legs = sorted(legs, key=lambda g: (g.taken_from_call_id is not None, g.appeared_at, g.call_id))
    side = []
    if direction == "inbound":
        side = [summary.caller] if summary else []
        side += [leg.caller for leg in legs if leg.caller.extension is None]
    elif direction == "outbound":
        side = [summary.callee] if summary else []
        for leg in legs:
            # A callback's first leg shows the number it will dial as its caller.
            party = leg.caller if leg.rings_employee_for_callback else leg.callee
            side += [party] if party.extension is None else []
        side += [leg.caller for leg in legs if leg.caller.extension is None]
    else:
        return None
    return next((p.number for p in side if p.number), None)


def _talk_extensions(direction: Direction | None, talk_legs: list[Leg]) -> tuple[str, ...]:
    seen: list[str] = []
    for leg in sorted(talk_legs, key=lambda g: (g.connected_at, g.call_id)):
        parties = [leg.caller, leg.callee] if direction == "outbound" else [leg.callee, leg.caller]
        for party in parties:
            if party.extension and party.extension not in seen:
                seen.append(party.extension)
    return tuple(seen)


def _recordings(changes: list[RecordingChanged], stored: list[RecordingStored],
                summary: CallFinished | None) -> tuple[str, ...]:
    first_seen: dict[str, int] = {}
    failed: set[str] = set()
    seen: list[RecordingChanged | RecordingStored] = [*changes, *stored]
    for ev in seen:
        first_seen[ev.recording_id] = min(first_seen.get(ev.recording_id, ev.at), ev.at)
    for ch in changes:
        code = ch.completion_code
        if ch.state == "completed" and code is not None and code // 100 * 100 != RECORDING_SAVED_CLASS:
            failed.add(ch.recording_id)  # e.g. 4002: too short, never saved
    if summary is not None:
        for rid in summary.recording_ids:
            first_seen.setdefault(rid, summary.created_at)
    failed -= {ev.recording_id for ev in stored}
    keep = [rid for rid in first_seen if rid not in failed]
    return tuple(sorted(keep, key=lambda rid: (first_seen[rid], rid)))


def _pick_summary(summaries: list[CallFinished]) -> CallFinished | None:
    """The PBX's own summary beats a reconciled one; among equals the latest end wins."""
    if not summaries:
        return None
    return max(summaries, key=lambda s: (not s.reconciled, s.ended_at, s.model_dump_json()))


def derive_call(entry_id: str, events: Iterable[object]) -> CallView:
    """Derive the call's communication fields from all its events, in any order."""
    evs = list(events)
    legs = legs_of(e for e in evs if isinstance(e, CallLegChanged))
    summary = _pick_summary([e for e in evs if isinstance(e, CallFinished)])
    changes = [e for e in evs if isinstance(e, RecordingChanged)]
    stored = [e for e in evs if isinstance(e, RecordingStored)]

    leg_direction, certain = direction_from_legs(legs)
    direction = summary.direction if summary else leg_direction
    talk_legs = [leg for leg in legs if leg.talked]
    answered = summary.talked if summary else bool(talk_legs)
    finished = summary is not None or finished_by_legs(legs)
    participants = _talk_extensions(direction, talk_legs) if answered else ()

    manager = None
    if answered and summary is not None:
        answerer = summary.caller if direction == "outbound" else summary.callee
        manager = answerer.extension
    if answered and manager is None and participants:
        manager = participants[0]
    if manager and manager not in participants and answered:
        participants = (manager, *participants)

    started_at = summary.created_at if summary else min((g.appeared_at for g in legs), default=None)
    answered_at = None
    if answered:
        answered_at = summary.answered_at if summary else None
        connected = [g.connected_at for g in talk_legs if g.connected_at is not None]
        answered_at = answered_at or min(connected, default=None)
    ended_at = summary.ended_at if summary else None
    if ended_at is None and finished:
        ended_at = max(g.disconnected_at for g in legs)  # type: ignore[type-var]
    talk_seconds = 0
    if answered_at is not None:
        talk_end = ended_at
        if talk_end is None and talk_legs and all(g.disconnected_at for g in talk_legs):
            talk_end = max(g.disconnected_at for g in talk_legs)  # type: ignore[type-var]
        talk_seconds = min(MAX_TALK_SECONDS, max(0, (talk_end or answered_at) - answered_at))

    if answered:
        status = "answered"
    else:
        status = "missed" if finished else "ringing"
    reason = summary.disconnect_reason if summary else None
    if reason is None and legs:
        reason = last_ended(legs).disconnect_reason
    line = (summary.line_number if summary else None) or next(
        (g.line_number for g in legs if g.line_number), None
    )
    return CallView(
        entry_id=entry_id,
        direction=direction,
        status=status,
        customer_number=_customer_number(direction, summary, legs),
        line_number=line,
        manager_extension=manager,
        participants=participants,
        started_at=started_at,
        answered_at=answered_at,
        ended_at=ended_at,
        talk_seconds=talk_seconds,
        recording_ids=_recordings(changes, stored, summary),
        disconnect_reason=reason,
        finished=finished,
        reconciled=summary is not None and summary.reconciled and not legs,
        direction_certain=summary is not None or certain,
    )
