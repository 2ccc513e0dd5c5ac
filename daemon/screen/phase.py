"""Where a call stands for one manager: ringing, answered, ended, taken or missed.

A pure function of the call's communication row and its leg events, so every
daemon, given the same PostgreSQL state, tells a manager the same thing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from daemon.domain.call_state import Leg, fold_leg
from daemon.domain.events import CallLegChanged

Phase = Literal["ringing", "answered", "ended", "taken", "missed", "inquiry"]
# Phases of a call that is still on the manager's phone: a card in one of them
# pops up even on a screen that has not shown this call before.
LIVE_PHASES: frozenset[str] = frozenset({"ringing", "answered"})
ROUTE_ACCEPTED = 1000  # the PBX's result code of a route command that went through


def legs_of(events: Iterable[CallLegChanged]) -> list[Leg]:
    by_leg: dict[str, list[CallLegChanged]] = defaultdict(list)
    for event in events:
        by_leg[event.call_id].append(event)
    return [fold_leg(group) for group in by_leg.values()]


def call_over(call: Mapping[str, Any]) -> bool:
    return call["ended_at"] is not None or bool(call["finished"])


def phase_for(extension: str, call: Mapping[str, Any], legs: Iterable[Leg]) -> Phase | None:
    """This manager's view of the call; None when the call never reached the extension.

    A call reaches an extension when a leg rings there, when the extension
    talked in it, or when callbridge routed it there (the leg may not have
    appeared yet). ``taken`` means a colleague answered while this phone rang.
    """
    if call.get("channel", "call") != "call":
        return inquiry_phase(extension, call)
    if call["direction"] == "internal":
        return None  # a colleague calling: no caller card
    mine = [leg for leg in legs if leg.callee.extension == extension]
    talked = extension in (call["participants"] or ()) or any(leg.connected_at is not None for leg in mine)
    routed = call.get("routed_to") == extension and call.get("route_result") in (None, ROUTE_ACCEPTED)
    if not (mine or talked or routed):
        return None
    over = call_over(call)
    if talked:
        talking = any(leg.connected_at is not None and leg.disconnected_at is None for leg in mine)
        return "answered" if talking and not over else "ended"
    ringing = any(leg.disconnected_at is None for leg in mine) or (routed and not mine)
    if ringing and not over:
        return "ringing"
    if call["status"] == "answered":
        return "taken"
    return "missed"


def inquiry_phase(extension: str, inquiry: Mapping[str, Any]) -> Phase | None:
    """A form or chat inquiry pops up for the contact's responsible manager, or, when
    there is none, for everyone signed in."""
    responsible = inquiry.get("responsible_extension")
    return "inquiry" if responsible in (None, extension) else None
