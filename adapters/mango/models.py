"""The PBX's webhook payloads as pydantic models that tolerate its quirks.

Numbers arrive as strings or ints (``"seq":"2"`` in the manual, ``2`` on the
wire), ``from.number`` may be absent, numbers and lines may be SIP URIs, and
fields we do not use are ignored.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

MAX_ID_CHARS = 128  # the manual's limit for entry_id, call_id and recording_id
MAX_FIELD_CHARS = 512


def _to_text(value: object) -> object:
    """Ints, floats and empty strings as the PBX sends them -> str or None."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value  # let validation reject it
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else str(value)
    return value


def _to_int(value: object) -> object:
    if value == "" or value is None:
        return None
    return value


Id = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_CHARS)]
Text = Annotated[
    Annotated[str, StringConstraints(max_length=MAX_FIELD_CHARS)] | None, BeforeValidator(_to_text)
]
OptInt = Annotated[
    Annotated[int, Field(ge=-(2**62), le=2**62)] | None, BeforeValidator(_to_int)
]
Epoch = Annotated[int, Field(ge=0, le=2**40)]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=False)


class WireParty(_Wire):
    extension: Text = None
    number: Text = None
    line_number: Text = None
    acd_group: Text = None
    taken_from_call_id: Text = None
    was_transferred: bool | None = None


class CallEvent(_Wire):
    """``/events/call``: one leg changed state."""

    entry_id: Id
    call_id: Id
    timestamp: Epoch
    seq: Annotated[int, Field(ge=0, le=2**31)]
    call_state: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    location: Text = None
    from_: WireParty = Field(default_factory=WireParty, alias="from")
    to: WireParty = Field(default_factory=WireParty)
    disconnect_reason: OptInt = None
    command_id: Text = None
    transfer: Text = None


class SummaryEvent(_Wire):
    """``/events/summary``: the final record of the whole call."""

    entry_id: Id
    call_direction: Annotated[int, Field(ge=0, le=2)]
    from_: WireParty = Field(default_factory=WireParty, alias="from")
    to: WireParty = Field(default_factory=WireParty)
    line_number: Text = None
    create_time: Epoch
    forward_time: OptInt = None
    talk_time: OptInt = None
    end_time: Epoch
    entry_result: OptInt = None
    disconnect_reason: OptInt = None


class RecordingEvent(_Wire):
    """``/events/recording``: a recording started, continued or completed."""

    recording_id: Id
    recording_state: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    entry_id: Id
    call_id: Text = None
    seq: OptInt = None
    extension: Text = None
    timestamp: Epoch
    completion_code: OptInt = None


class RecordAddedEvent(_Wire):
    """``/events/record/added``: the recording is stored and downloadable."""

    entry_id: Id
    recording_id: Id
    timestamp: Epoch
    product_id: OptInt = None
    user_id: OptInt = None


class DtmfEvent(_Wire):
    """``/events/dtmf``: one collected sequence of keys in the IVR."""

    entry_id: Id
    call_id: Id
    seq: OptInt = None
    dtmf: Text = None
    location: Text = None
    timestamp: Epoch


class SmsEvent(_Wire):
    """``/events/sms``: delivery status of an SMS we sent."""

    command_id: Id
    reason: OptInt = None
    timestamp: Epoch | None = None


class CommandResultEvent(_Wire):
    """``/result/<command>``: the start result of a command we sent."""

    command_id: Id
    result: Annotated[int, Field(ge=0, le=10**6)]
    timestamp: Epoch | None = None
