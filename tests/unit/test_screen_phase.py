"""A call's phase for one manager, from the communication row and the leg events."""

from __future__ import annotations

from typing import Any

from daemon.domain.events import CallLegChanged, Party
from daemon.screen.phase import legs_of, phase_for


def _call(**overrides: Any) -> dict[str, Any]:
    return {"direction": "inbound", "status": "ringing", "participants": [], "ended_at": None,
            "finished": False, "routed_to": None, "route_result": None} | overrides


def _leg(call_id: str, extension: str, state: str, seq: int, at: int) -> CallLegChanged:
    return CallLegChanged(entry_id="e", call_id=call_id, seq=seq, state=state, location="abonent", at=at,
                          caller=Party(number="79161234567"), callee=Party(extension=extension))


def test_a_call_that_never_reached_the_extension_has_no_phase() -> None:
    legs = legs_of([_leg("a", "106", "appeared", 1, 10)])
    assert phase_for("105", _call(), legs) is None


def test_ringing_answered_ended() -> None:
    ring = [_leg("a", "105", "appeared", 1, 10)]
    talk = ring + [_leg("a", "105", "connected", 2, 15)]
    done = talk + [_leg("a", "105", "disconnected", 3, 90)]
    assert phase_for("105", _call(), legs_of(ring)) == "ringing"
    assert phase_for("105", _call(status="answered", participants=["105"]), legs_of(talk)) == "answered"
    over = _call(status="answered", participants=["105"], ended_at=90)
    assert phase_for("105", over, legs_of(done)) == "ended"


def test_a_leg_that_stopped_ringing_unanswered_is_missed_even_while_the_call_goes_on() -> None:
    legs = legs_of([_leg("a", "105", "appeared", 1, 10), _leg("a", "105", "disconnected", 2, 30)])
    assert phase_for("105", _call(), legs) == "missed"
    assert phase_for("105", _call(status="missed", ended_at=30, finished=True), legs) == "missed"


def test_routed_here_rings_before_the_leg_appears_unless_the_pbx_refused() -> None:
    assert phase_for("105", _call(routed_to="105"), []) == "ringing"
    assert phase_for("105", _call(routed_to="105", route_result=1000), []) == "ringing"
    assert phase_for("105", _call(routed_to="105", route_result=3100), []) is None


def test_the_summary_alone_is_enough_for_a_manager_who_talked() -> None:
    """Events can arrive summary first: participants come from it, before any leg."""
    over = _call(status="answered", participants=["105"], ended_at=90, finished=True)
    assert phase_for("105", over, []) == "ended"


def test_internal_calls_have_no_card() -> None:
    legs = legs_of([_leg("a", "105", "appeared", 1, 10)])
    assert phase_for("105", _call(direction="internal"), legs) is None
