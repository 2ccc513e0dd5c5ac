"""derive_call is a function of the set of a call's events, not of their order."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.mango.translate import EVENT_PATHS
from daemon.callstate import derive_call
from tests.scenarios import REPLAYED, steps


def domain_events(name: str) -> tuple[str, list[object]]:
    events = []
    for step in steps(name):
        kind = EVENT_PATHS[step.path.strip("/")]
        events.append(kind.translate(kind.model.model_validate(step.json)).event)
    return events[0].entry_id, events


@pytest.mark.parametrize("name", REPLAYED)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_order_with_repeats_gives_the_same_call(name: str, data: st.DataObject) -> None:
    entry_id, events = domain_events(name)
    extra = data.draw(st.lists(st.sampled_from(events), max_size=len(events)))
    shuffled = data.draw(st.permutations(events + extra))
    assert derive_call(entry_id, shuffled) == derive_call(entry_id, events)


def test_a_call_still_in_the_ivr_is_ringing() -> None:
    entry_id, events = domain_events("answered_incoming.json")
    view = derive_call(entry_id, events[:1])
    assert (view.status, view.direction, view.customer_number, view.finished) == (
        "ringing", "inbound", "79161234567", False)


def test_ivr_forwarding_alone_does_not_end_the_call() -> None:
    """The IVR leg ends "normally" (1100) when it hands the caller on."""
    entry_id, events = domain_events("answered_incoming.json")
    view = derive_call(entry_id, events[:2])
    assert view.status == "ringing" and view.ended_at is None


def test_legs_alone_give_the_answer_before_the_summary_arrives() -> None:
    entry_id, events = domain_events("transfer_blind.json")
    without_summary = [e for e in events if e.kind != "call_finished"]
    view = derive_call(entry_id, without_summary)
    assert (view.status, view.manager_extension, view.participants, view.talk_seconds) == (
        "answered", "105", ("105", "106"), 180)


def test_missed_without_summary_when_the_caller_hangs_up() -> None:
    entry_id, events = domain_events("missed_incoming.json")
    view = derive_call(entry_id, [e for e in events if e.kind != "call_finished"])
    assert (view.status, view.manager_extension, view.talk_seconds) == ("missed", None, 0)


def test_a_recording_too_short_to_keep_is_not_listed() -> None:
    from daemon.domain import RecordingChanged

    entry_id, events = domain_events("answered_incoming.json")
    short = RecordingChanged(recording_id="short", entry_id=entry_id, state="completed", at=1760000100,
                             completion_code=4002)
    assert derive_call(entry_id, [*events, short]).recording_ids == ("MToxMDAwNjA4NTo1MDA5OjE=",)


def test_summary_that_ended_in_the_ivr_with_entry_result_1_is_not_answered() -> None:
    """The manual's example 2: entry_result 1 but talk_time 0."""
    kind = EVENT_PATHS["events/summary"]
    summary = kind.translate(kind.model.model_validate({
        "entry_id": "ivr-only", "call_direction": 1, "from": {"number": "79161234567"}, "to": {},
        "line_number": "74951234567", "create_time": 1760000000, "forward_time": 0, "talk_time": 0,
        "end_time": 1760000030, "entry_result": 1, "disconnect_reason": 1110})).event
    view = derive_call("ivr-only", [summary])
    assert (view.status, view.talk_seconds, view.answered_at) == ("missed", 0, None)
