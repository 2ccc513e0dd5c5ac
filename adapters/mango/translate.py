"""Mango webhook payloads -> vendor-neutral domain events with their dedup keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import BaseModel

from adapters.mango import models as m
from daemon.domain.events import (
    CallFinished,
    CallLegChanged,
    CommandResult,
    Direction,
    DomainEvent,
    DtmfCollected,
    LegState,
    Party,
    RecordingChanged,
    RecordingState,
    RecordingStored,
)

SOURCE = "mango"

_CALL_STATES: dict[str, LegState] = {
    "Appeared": "appeared",
    "Connected": "connected",
    "OnHold": "on_hold",
    "Disconnected": "disconnected",
}
_RECORDING_STATES: dict[str, RecordingState] = {
    "Started": "started", "Continued": "continued", "Completed": "completed",
}
_DIRECTIONS: dict[int, Direction] = {0: "internal", 1: "inbound", 2: "outbound"}


class UnknownValue(ValueError):
    """A field has a value this adapter cannot interpret (e.g. a new call_state)."""

    def __init__(self, field: str, value: object) -> None:
        super().__init__(f"{field}: unknown value {value!r}")
        self.field = field


@dataclass(frozen=True)
class Translated:
    dedup_key: str
    event: DomainEvent


def _party(p: m.WireParty) -> Party:
    return Party(extension=p.extension, number=p.number)


def call_event(ev: m.CallEvent) -> Translated:
    state = _CALL_STATES.get(ev.call_state)
    if state is None:
        raise UnknownValue("call_state", ev.call_state)
    leg = CallLegChanged(
        entry_id=ev.entry_id,
        call_id=ev.call_id,
        seq=ev.seq,
        state=state,
        location=ev.location,
        at=ev.timestamp,
        caller=_party(ev.from_),
        callee=_party(ev.to),
        line_number=ev.to.line_number,
        group=ev.to.acd_group,
        disconnect_reason=ev.disconnect_reason,
        taken_from_call_id=ev.from_.taken_from_call_id,
        command_id=ev.command_id,
        transfer=ev.transfer,
    )
    return Translated(f"{SOURCE}:call:{ev.call_id}:{ev.seq}:{state}", leg)


def summary_event(ev: m.SummaryEvent) -> Translated:
    talk_time = ev.talk_time or None
    # entry_result alone is not enough: the manual's own example shows
    # entry_result 1 with talk_time 0 for a call that ended in the IVR.
    talked = ev.entry_result == 1 and (ev.talk_time is None or ev.talk_time > 0)
    finished = CallFinished(
        entry_id=ev.entry_id,
        direction=_DIRECTIONS[ev.call_direction],
        caller=_party(ev.from_),
        callee=_party(ev.to),
        line_number=ev.line_number,
        created_at=ev.create_time,
        answered_at=talk_time if talked else None,
        ended_at=max(ev.end_time, ev.create_time),
        talked=talked,
        disconnect_reason=ev.disconnect_reason,
    )
    return Translated(f"{SOURCE}:summary:{ev.entry_id}", finished)


def recording_event(ev: m.RecordingEvent) -> Translated:
    state = _RECORDING_STATES.get(ev.recording_state)
    if state is None:
        raise UnknownValue("recording_state", ev.recording_state)
    rec = RecordingChanged(
        recording_id=ev.recording_id,
        entry_id=ev.entry_id,
        call_id=ev.call_id,
        state=state,
        seq=ev.seq,
        extension=ev.extension,
        at=ev.timestamp,
        completion_code=ev.completion_code,
    )
    key = f"{SOURCE}:recording:{ev.recording_id}:{state}:{ev.seq}:{ev.call_id}"
    return Translated(key, rec)


def record_added_event(ev: m.RecordAddedEvent) -> Translated:
    stored = RecordingStored(recording_id=ev.recording_id, entry_id=ev.entry_id, at=ev.timestamp)
    return Translated(f"{SOURCE}:record_added:{ev.recording_id}", stored)


def dtmf_event(ev: m.DtmfEvent) -> Translated:
    dtmf = DtmfCollected(
        entry_id=ev.entry_id,
        call_id=ev.call_id,
        seq=ev.seq,
        digits=ev.dtmf or "",
        location=ev.location,
        at=ev.timestamp,
    )
    return Translated(f"{SOURCE}:dtmf:{ev.call_id}:{ev.seq}:{ev.timestamp}", dtmf)


def sms_event(ev: m.SmsEvent) -> Translated:
    result = CommandResult(command="sms", command_id=ev.command_id, result=ev.reason or 0,
                           at=ev.timestamp)
    return Translated(f"{SOURCE}:sms:{ev.command_id}:{ev.reason}", result)


def command_result(command: str, ev: m.CommandResultEvent) -> Translated:
    result = CommandResult(command=command, command_id=ev.command_id, result=ev.result,
                           at=ev.timestamp)
    # Keyed by the command id alone: our command ids are unique across commands, and a
    # signed body replayed under other result paths must not add a row each time.
    return Translated(f"{SOURCE}:result:{ev.command_id}", result)


@dataclass(frozen=True)
class EventKind:
    model: type[BaseModel]
    translate: Callable[[BaseModel], Translated]


# Webhook path (under the prefix) -> how to read it.
EVENT_PATHS: dict[str, EventKind] = {
    "events/call": EventKind(m.CallEvent, call_event),  # type: ignore[arg-type]
    "events/summary": EventKind(m.SummaryEvent, summary_event),  # type: ignore[arg-type]
    "events/recording": EventKind(m.RecordingEvent, recording_event),  # type: ignore[arg-type]
    "events/record/added": EventKind(m.RecordAddedEvent, record_added_event),  # type: ignore[arg-type]
    "events/dtmf": EventKind(m.DtmfEvent, dtmf_event),  # type: ignore[arg-type]
    "events/sms": EventKind(m.SmsEvent, sms_event),  # type: ignore[arg-type]
}
