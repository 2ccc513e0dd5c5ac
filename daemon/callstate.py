"""What a call is, derived from the set of its events.

``derive_call`` is a pure function of the *set* of a call's events: it sorts
them into a canonical order first and combines them with min/max/union, so any
delivery order, with or without duplicates, gives the same answer. The PBX's
summary, when present, is its final word and wins over what the legs suggest.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from daemon.domain import (
    CallFinished,
    CallLegChanged,
    Direction,
    Party,
    RecordingChanged,
    RecordingStored,
)

IVR_LOCATION = "ivr"
# The IVR leg ends with "normal" (1100) when the scheme forwards the caller to
# the next leg, so that alone does not mean the call is over.
FORWARDED_REASON = 1100
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


@dataclass
class Leg:
    """One call leg folded from its events."""

    call_id: str
    appeared_at: int
    caller: Party = Party()
    callee: Party = Party()
    location: str | None = None
    line_number: str | None = None
    connected_at: int | None = None
    disconnected_at: int | None = None
    last_state: str = "appeared"
    disconnect_reason: int | None = None
    talk_parties: list[str] = field(default_factory=list)

    @property
    def talked(self) -> bool:
        return self.connected_at is not None and self.location != IVR_LOCATION


_STATE_RANK = {"appeared": 0, "on_hold": 1, "connected": 2, "disconnected": 3}


def _merge_party(old: Party, new: Party) -> Party:
    return Party(
        extension=new.extension or old.extension, number=new.number or old.number
    )


def fold_leg(events: list[CallLegChanged]) -> Leg:
    """Fold one leg's events; later seq (then later state) wins for each known field."""
    ordered = sorted(events, key=lambda e: (e.seq, _STATE_RANK[e.state], e.at))
    leg = Leg(call_id=ordered[0].call_id, appeared_at=min(e.at for e in ordered))
    for ev in ordered:
        leg.caller = _merge_party(leg.caller, ev.caller)
        leg.callee = _merge_party(leg.callee, ev.callee)
        leg.location = ev.location or leg.location
        leg.line_number = ev.line_number or leg.line_number
        leg.last_state = ev.state
        if ev.state == "connected":
            leg.connected_at = ev.at if leg.connected_at is None else min(leg.connected_at, ev.at)
        if ev.state == "disconnected":
            leg.disconnected_at = max(leg.disconnected_at or ev.at, ev.at)
            leg.disconnect_reason = ev.disconnect_reason
    return leg


def _legs(events: Iterable[CallLegChanged]) -> list[Leg]:
    by_call: dict[str, list[CallLegChanged]] = defaultdict(list)
    for ev in events:
        by_call[ev.call_id].append(ev)
    return sorted((fold_leg(evs) for evs in by_call.values()), key=lambda g: (g.appeared_at, g.call_id))


def _direction_from_legs(legs: list[Leg]) -> Direction | None:
    if not legs:
        return None
    if any(leg.caller.extension is None for leg in legs):
        return "inbound"  # someone outside the office called in (maybe hidden)
    if any(leg.callee.extension is None for leg in legs):
        return "outbound"
    return "internal"


def _customer_number(direction: Direction | None, summary: CallFinished | None, legs: list[Leg]) -> str | None:
    if direction == "inbound":
        side = [summary.caller] if summary else []
        side += [leg.caller for leg in legs if leg.caller.extension is None]
    elif direction == "outbound":
        side = [summary.callee] if summary else []
        side += [leg.callee for leg in legs if leg.callee.extension is None]
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
    for ev in [*changes, *stored]:
        first_seen[ev.recording_id] = min(first_seen.get(ev.recording_id, ev.at), ev.at)
    for ch in changes:
        code = ch.completion_code
        if ch.state == "completed" and code is not None and code // 100 * 100 != RECORDING_SAVED_CLASS:
            failed.add(ch.recording_id)  # e.g. 4002: too short, never saved
    for rid in summary.recording_ids if summary else ():
        first_seen.setdefault(rid, summary.created_at)
    failed -= {ev.recording_id for ev in stored}
    keep = [rid for rid in first_seen if rid not in failed]
    return tuple(sorted(keep, key=lambda rid: (first_seen[rid], rid)))


def _finished_by_legs(legs: list[Leg]) -> bool:
    if not legs or any(leg.disconnected_at is None for leg in legs):
        return False
    last = max(legs, key=lambda g: (g.disconnected_at, g.call_id))
    return not (last.location == IVR_LOCATION and last.disconnect_reason == FORWARDED_REASON)


def _pick_summary(summaries: list[CallFinished]) -> CallFinished | None:
    """The PBX's own summary beats a reconciled one; among equals the latest end wins."""
    if not summaries:
        return None
    return max(summaries, key=lambda s: (not s.reconciled, s.ended_at, s.model_dump_json()))


def derive_call(entry_id: str, events: Iterable[object]) -> CallView:
    """Derive the call's communication fields from all its events, in any order."""
    evs = list(events)
    legs = _legs(e for e in evs if isinstance(e, CallLegChanged))
    summary = _pick_summary([e for e in evs if isinstance(e, CallFinished)])
    changes = [e for e in evs if isinstance(e, RecordingChanged)]
    stored = [e for e in evs if isinstance(e, RecordingStored)]

    direction = summary.direction if summary else _direction_from_legs(legs)
    talk_legs = [leg for leg in legs if leg.talked]
    answered = summary.talked if summary else bool(talk_legs)
    finished = summary is not None or _finished_by_legs(legs)
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
        answered_at = answered_at or min((g.connected_at for g in talk_legs), default=None)
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
        reason = max(legs, key=lambda g: (g.disconnected_at or 0, g.call_id)).disconnect_reason
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
    )
