"""The PBX's webhook payloads as pydantic models that tolerate its quirks.

Numbers arrive as strings or ints (``"seq":"2"`` in the manual, ``2`` on the
wire), ``from.number`` may be absent, numbers and lines may be SIP URIs, and
fields we do not use are ignored. A NUL (``\\u0000``), which PostgreSQL's text
and jsonb cannot hold, becomes U+FFFD in the models; the inbox keeps the raw
text exactly as signed. (A lone surrogate is refused by pydantic itself: 400.)
"""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

MAX_ID_CHARS = 128  # the manual's limit for entry_id, call_id and recording_id
MAX_FIELD_CHARS = 512


def _to_text(value: object) -> object:
    """Ints, floats and empty strings as the PBX sends them -> str or None."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value  # let validation reject it
    if isinstance(value, int):
        return str(value)  # not via float(): an int of 400 digits overflows it
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else str(value)
    return value


def _storable(value: str) -> str:
    """PostgreSQL's text and jsonb refuse NUL."""
    return value.replace("\x00", "\ufffd") if "\x00" in value else value


def _to_int(value: object) -> object:
    if value == "" or value is None:
        return None
    return value


Id = Annotated[str, StringConstraints(min_length=1, max_length=MAX_ID_CHARS), AfterValidator(_storable)]
Text = Annotated[
    Annotated[str, StringConstraints(max_length=MAX_FIELD_CHARS), AfterValidator(_storable)] | None,
    BeforeValidator(_to_text),
]
OptInt = Annotated[
    Annotated[int, Field(ge=-(2**62), le=2**62)] | None, BeforeValidator(_to_int)
]
# The last second of year 9999: later times fit neither Python's datetime nor a round trip
# through asyncpg, so a PBX clock that far off is an error, not a call.
MAX_EPOCH_S = 253_402_300_799
Epoch = Annotated[int, Field(ge=0, le=MAX_EPOCH_S)]
OptEpoch = Annotated[Annotated[int, Field(ge=0, le=MAX_EPOCH_S)] | None, BeforeValidator(_to_int)]
# Codes kept in PostgreSQL integer columns (communications.disconnect_reason).
Code = Annotated[Annotated[int, Field(ge=-(2**31), le=2**31 - 1)] | None, BeforeValidator(_to_int)]


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
    disconnect_reason: Code = None
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
    forward_time: OptEpoch = None
    talk_time: OptEpoch = None
    end_time: Epoch
    entry_result: OptInt = None
    disconnect_reason: Code = None


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
    reason: Code = None
    timestamp: Epoch | None = None


class CommandResultEvent(_Wire):
    """``/result/<command>``: the start result of a command we sent."""

    command_id: Id
    result: Annotated[int, Field(ge=0, le=10**6)]
    timestamp: Epoch | None = None
