"""derive_call gives each call flow its hand-written final state, in any order, with repeats.

The expected states below are written by hand from the leg model of Mango Office's VPBX API manual
(not computed by the code under test); a property test delivers every flow's
events in random orders with random repeats and compares with them. Flows:
the PBX's example scenarios, the six flows of the vendor's manual
(documented_flows.json) and partial-evidence cases (partial_evidence_flows.json).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.mango.translate import EVENT_PATHS
from daemon.domain.call_state import derive_call
from tests.callflows import flow_events

L = "74951234567"
MOSCOW_LINE = L


def _state(direction: str, status: str, customer: str | None, line: str | None, manager: str | None,
           participants: tuple[str, ...], started: int, answered: int | None, ended: int | None,
           talk: int, reason: int | None, finished: bool, *, recordings: tuple[str, ...] = (),
           certain: bool = True) -> dict[str, Any]:
    return {"direction": direction, "status": status, "customer_number": customer, "line_number": line,
            "manager_extension": manager, "participants": participants, "started_at": started,
            "answered_at": answered, "ended_at": ended, "talk_seconds": talk, "recording_ids": recordings,
            "disconnect_reason": reason, "finished": finished, "reconciled": False,
            "direction_certain": certain}


REC = "MToxMDAwNjA4NTo1MDA5OjE="
T_Q, T_VM, T_TIE, T_OT, T_CB = 1760100000, 1760110000, 1760120000, 1760130000, 1760140000
HOTEL = "74957770011"

# Every event of the flow delivered (the summary too, where the flow has one).
EXPECTED: dict[str, dict[str, Any]] = {
    # The PBX's example scenarios: the summary decides.
    "answered_incoming.json": _state("inbound", "answered", "79161234567", L, "105", ("105",),
                                     1760000000, 1760000011, 1760000196, 185, 1110, True, recordings=(REC,)),
    "answered_incoming_shuffled.json": _state("inbound", "answered", "79161234567", L, "105", ("105",),
                                              1760000000, 1760000011, 1760000196, 185, 1110, True,
                                              recordings=(REC,)),
    "missed_incoming.json": _state("inbound", "missed", "79031112233", L, None, (),
                                   1760003595, None, 1760003627, 0, 1110, True),
    "outgoing_callback.json": _state("outbound", "answered", "79031112233", L, "105", ("105",),
                                     1760007200, 1760007209, 1760007390, 181, 1120, True),
    "unknown_caller.json": _state("inbound", "answered", "79261234500", "74957654321", "101", ("101",),
                                  1760010000, 1760010008, 1760010068, 60, 1120, True),
    "hidden_number_after_hours.json": _state("inbound", "missed", None, L, None, (),
                                             1760060000, None, 1760060020, 0, 1110, True),
    "group_answered_by_second.json": _state("inbound", "answered", "79855554433", L, "106", ("106",),
                                            1760020000, 1760020010, 1760020250, 240, 1110, True),
    "transfer_blind.json": _state("inbound", "answered", "79161234567", L, "105", ("105", "106"),
                                  1760040000, 1760040006, 1760040186, 180, 1110, True),
    # The summary names 106 as the one rung; both talked, the callee first.
    "internal_call.json": _state("internal", "answered", None, None, "106", ("106", "105"),
                                 1760030000, 1760030003, 1760030063, 60, 1110, True),
    # The manual's flows (no summary in any of them): the legs decide.
    "outbound-call-from-extension": _state("outbound", "answered", "12345678", None, "1234", ("1234",),
                                           1399906976, 1399906988, 1399907008, 20, 1120, True),
    # Leg 251 rings 1234 for the callback ("connected" = 1234 picked up); leg 258
    # then rings 5555, who is on do-not-disturb (1124): nobody was reached.
    "callback-command": _state("internal", "missed", None, None, None, (),
                               1399906971, None, 1399906979, 0, 1124, True),
    "ivr-route-command": _state("inbound", "answered", "79000000000", "7800123456789", "123", ("123",),
                                1399906976, 1399906988, 1399907008, 20, 1120, True),
    # 123 answers, consults 321 (leg 515, 123 on hold), 321 then talks to the caller.
    "consultative-transfer": _state("inbound", "answered", "74955404444", None, "123", ("123", "321"),
                                    1398956978, 1398956985, 1398957015, 30, 1110, True),
    "blind-transfer": _state("inbound", "answered", "74955404444", None, "333", ("333", "321"),
                             1399956976, 1399956986, 1399957036, 50, 1110, True),
    # The route's new leg has only appeared: still ringing.
    "dtmf-then-route": _state("inbound", "ringing", "74955404444", "74952150438", None, (),
                              1488272633, None, None, 0, None, False),
    # Partial evidence (no summary unless said): hand-made in the PBX's leg model.
    "queue-connects-caller-gives-up": _state("inbound", "missed", "79035550101", L, None, (),
                                             T_Q, None, T_Q + 65, 0, 1110, True),
    "voicemail-after-no-answer": _state("inbound", "missed", "79035550102", L, None, (),
                                        T_VM, None, T_VM + 55, 0, 1110, True),
    "hand-on-and-hang-up-in-one-second": _state("inbound", "missed", "79035550103", L, None, (),
                                                T_TIE, None, T_TIE + 4, 0, 1110, True),
    "outbound-transferred-to-colleague": _state("outbound", "answered", HOTEL, L, "105", ("105", "106"),
                                                T_OT, T_OT + 7, T_OT + 160, 153, 1110, True),
    "callback-to-an-outside-number": _state("outbound", "answered", HOTEL, L, "105", ("105",),
                                            T_CB, T_CB + 12, T_CB + 92, 80, 1120, True),
}
# What the legs alone say, before the summary (where the flow has one).
EXPECTED_BEFORE_SUMMARY: dict[str, dict[str, Any]] = {
    "outbound-transferred-to-colleague": EXPECTED["outbound-transferred-to-colleague"],
    "callback-to-an-outside-number": EXPECTED["callback-to-an-outside-number"],
    "missed_incoming.json": _state("inbound", "missed", "79031112233", L, None, (),
                                   1760003595, None, 1760003627, 0, 1110, True),
    "transfer_blind.json": _state("inbound", "answered", "79161234567", L, "105", ("105", "106"),
                                  1760040000, 1760040006, 1760040186, 180, 1110, True),
    "outgoing_callback.json": _state("outbound", "answered", "79031112233", L, "105", ("105",),
                                     1760007195, 1760007209, 1760007390, 181, 1120, True),
}
OUTBOUND_OR_INTERNAL = [name for name, want in EXPECTED.items() if want["direction"] != "inbound"]


def domain_events(name: str) -> tuple[str, list[Any]]:
    return flow_events(name)


def view_of(entry_id: str, events: list[Any]) -> dict[str, Any]:
    got = dataclasses.asdict(derive_call(entry_id, events))
    got.pop("entry_id")
    return got


@pytest.mark.parametrize("name", sorted(EXPECTED))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_every_order_and_repeat_of_a_flow_gives_its_hand_written_state(name: str, data: st.DataObject) -> None:
    entry_id, events = domain_events(name)
    extra = data.draw(st.lists(st.sampled_from(events), max_size=len(events)))
    shuffled = data.draw(st.permutations(events + extra))
    assert view_of(entry_id, shuffled) == EXPECTED[name]


@pytest.mark.parametrize("name", sorted(EXPECTED_BEFORE_SUMMARY))
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_the_legs_alone_give_the_hand_written_state(name: str, data: st.DataObject) -> None:
    entry_id, events = domain_events(name)
    legs = [e for e in events if e.kind != "call_finished"]
    shuffled = data.draw(st.permutations(legs + data.draw(st.lists(st.sampled_from(legs), max_size=3))))
    assert view_of(entry_id, shuffled) == EXPECTED_BEFORE_SUMMARY[name]


@pytest.mark.parametrize("name", OUTBOUND_OR_INTERNAL)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_no_part_of_an_outgoing_call_is_taken_for_certain_as_inbound(name: str, data: st.DataObject) -> None:
    """What decides contact and lead creation: a partial outbound call is never 'inbound, certain'."""
    entry_id, events = domain_events(name)
    part = data.draw(st.lists(st.sampled_from(events), min_size=1, max_size=len(events)))
    view = derive_call(entry_id, part)
    assert not (view.direction == "inbound" and view.direction_certain), part


def test_a_transfer_leg_alone_is_an_uncertain_guess() -> None:
    """The transfer leg starts at the outside number, so it looks inbound; its first leg is missing."""
    entry_id, events = domain_events("outbound-transferred-to-colleague")
    transfer_leg = [e for e in events if getattr(e, "call_id", "").endswith("-106")]
    view = derive_call(entry_id, transfer_leg)
    assert (view.direction, view.direction_certain) == ("inbound", False)


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
    from daemon.domain.events import RecordingChanged

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
