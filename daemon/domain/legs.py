"""One call leg folded from its events, and what the legs alone say about the call.

The rules for partial evidence live here (see daemon/domain/call_state.py's docstring
and docs/ARCHITECTURE.md): which leg is a conversation, which leg began the
call, and when the legs say the call is over.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from daemon.domain.events import CallLegChanged, Direction, Party

IVR_LOCATION = "ivr"
# Where a connected leg is someone talking. The examples of the vendor's manual
# sometimes omit location (or misspell it), so an unknown location (None) at a
# leg with an employee on it counts too; "ivr", "queue" or anything else does not.
TALK_LOCATIONS = ("abonent", None)
# Legs that hand the caller on: the IVR (or a group's queue) ends with "normal"
# (1100) when the scheme forwards the caller to the next leg, so that alone
# does not mean the call is over.
HANDOFF_LOCATIONS = ("ivr", "queue")
FORWARDED_REASON = 1100
FIRST_SEQ = 1  # the PBX numbers each leg's notifications from 1


@dataclass
class Leg:
    """One call leg folded from its events."""

    call_id: str
    appeared_at: int
    caller: Party = Party()  # noqa: RUF009  (Party is frozen: one shared empty value is safe)
    callee: Party = Party()  # noqa: RUF009
    location: str | None = None
    line_number: str | None = None
    connected_at: int | None = None
    disconnected_at: int | None = None
    last_state: str = "appeared"
    disconnect_reason: int | None = None
    taken_from_call_id: str | None = None
    command_id: str | None = None
    first_seq: int = 0
    talk_parties: list[str] = field(default_factory=list)

    @property
    def rings_employee_for_callback(self) -> bool:
        """The PBX ringing an employee on a command (callback) before it dials out.

        A route command's leg continues the IVR leg (taken_from_call_id); a
        callback's first leg continues nothing and rings an employee, showing the
        number to be dialled as its caller. Its "connected" only means the
        employee picked up.
        """
        return (self.command_id is not None and self.taken_from_call_id is None
                and self.callee.extension is not None)

    @property
    def talked(self) -> bool:
        return (self.connected_at is not None and self.location in TALK_LOCATIONS
                and (self.caller.extension is not None or self.callee.extension is not None)
                and not self.rings_employee_for_callback)

    @property
    def hands_on(self) -> bool:
        return self.location in HANDOFF_LOCATIONS and self.disconnect_reason == FORWARDED_REASON


_STATE_RANK = {"appeared": 0, "on_hold": 1, "connected": 2, "disconnected": 3}


def _merge_party(old: Party, new: Party) -> Party:
    return Party(
        extension=new.extension or old.extension, number=new.number or old.number
    )


def fold_leg(events: list[CallLegChanged]) -> Leg:
    """Fold one leg's events; later seq (then later state) wins for each known field."""
    ordered = sorted(events, key=lambda e: (e.seq, _STATE_RANK[e.state], e.at))
    leg = Leg(call_id=ordered[0].call_id, appeared_at=min(e.at for e in ordered), first_seq=ordered[0].seq)
    for ev in ordered:
        leg.caller = _merge_party(leg.caller, ev.caller)
        leg.callee = _merge_party(leg.callee, ev.callee)
        leg.location = ev.location or leg.location
        leg.line_number = ev.line_number or leg.line_number
        leg.taken_from_call_id = ev.taken_from_call_id or leg.taken_from_call_id
        leg.command_id = ev.command_id or leg.command_id
        leg.last_state = ev.state
        if ev.state == "connected":
            leg.connected_at = ev.at if leg.connected_at is None else min(leg.connected_at, ev.at)
        if ev.state == "disconnected":
            leg.disconnected_at = max(leg.disconnected_at or ev.at, ev.at)
            leg.disconnect_reason = ev.disconnect_reason
    return leg


def legs_of(events: Iterable[CallLegChanged]) -> list[Leg]:
    by_call: dict[str, list[CallLegChanged]] = defaultdict(list)
    for ev in events:
        by_call[ev.call_id].append(ev)
    return sorted((fold_leg(evs) for evs in by_call.values()), key=lambda g: (g.appeared_at, g.call_id))


def first_leg(legs: list[Leg]) -> Leg | None:
    """The leg the call began with: the earliest one known to continue no other leg.

    Only a leg's first event (seq 1) is sure to say which leg it continues (the
    PBX repeats taken_from_call_id on later events or not), so a leg counts only
    once that event is here. None while no such leg has arrived.
    """
    roots = [g for g in legs if g.taken_from_call_id is None and g.first_seq == FIRST_SEQ]
    return min(roots, key=lambda g: (g.appeared_at, g.call_id), default=None)


def direction_from_legs(legs: list[Leg]) -> tuple[Direction | None, bool]:
    """(direction, certain): from the first leg when it is there, else a guess from the earliest."""
    if not legs:
        return None, False
    first = first_leg(legs)
    leg = first or min(legs, key=lambda g: (g.appeared_at, g.call_id))
    if leg.rings_employee_for_callback:
        # The caller shown is whom the PBX dials next: a colleague or the outside.
        direction: Direction = "internal" if leg.caller.extension else "outbound"
    elif leg.caller.extension is None:
        direction = "inbound"  # someone outside the office called in (maybe hidden)
    elif leg.callee.extension is None:
        direction = "outbound"
    else:
        direction = "internal"
    return direction, first is not None


def _handed_to(handoff: Leg, legs: list[Leg]) -> bool:
    """Whether a leg that handed the caller on has a next leg among ``legs``."""
    return any(
        g.taken_from_call_id == handoff.call_id
        or (g.taken_from_call_id is None and g.call_id != handoff.call_id and g.appeared_at >= handoff.appeared_at
            and not g.hands_on)
        for g in legs
    )


def finished_by_legs(legs: list[Leg]) -> bool:
    """Every leg has ended, and every leg that handed the caller on handed to a leg we have.

    Timestamps are whole seconds, so the IVR's hand-on and the next leg's end can
    share one: which of them is "last" must not decide whether the call is over.
    """
    if not legs or any(leg.disconnected_at is None for leg in legs):
        return False
    return all(_handed_to(g, legs) for g in legs if g.hands_on)


def last_ended(legs: list[Leg]) -> Leg:
    # On a tie of seconds, the leg that really ended the call beats one handing on.
    return max(legs, key=lambda g: (g.disconnected_at or 0, not g.hands_on, g.call_id))
