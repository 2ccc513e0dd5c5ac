"""Vendor-neutral events: what any PBX adapter turns its webhooks into.

They are stored (as JSON) in the inbox next to the PBX's raw words, and the
state of a call is always re-derived from the set of them, so they must carry
every fact the derivation needs. Times are Unix epoch seconds (UTC).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from daemon.domain.inquiry import Inquiry

LegState = Literal["appeared", "connected", "on_hold", "disconnected"]
Direction = Literal["inbound", "outbound", "internal"]
RecordingState = Literal["started", "continued", "completed"]


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Party(_Event):
    """One end of a call leg: an employee (extension) and/or a number or device."""

    extension: str | None = None
    number: str | None = None


class CallLegChanged(_Event):
    """A leg of a call (IVR, queue or one employee ringing) changed state."""

    kind: Literal["call_leg"] = "call_leg"
    entry_id: str
    call_id: str
    seq: int
    state: LegState
    location: str | None = None
    at: int
    caller: Party = Party()
    callee: Party = Party()
    line_number: str | None = None
    group: str | None = None
    disconnect_reason: int | None = None
    taken_from_call_id: str | None = None
    command_id: str | None = None
    transfer: str | None = None


class CallFinished(_Event):
    """The PBX's final record of a whole call."""

    kind: Literal["call_finished"] = "call_finished"
    entry_id: str
    direction: Direction
    caller: Party = Party()
    callee: Party = Party()
    line_number: str | None = None
    created_at: int
    answered_at: int | None = None
    ended_at: int
    talked: bool
    disconnect_reason: int | None = None
    reconciled: bool = False
    recording_ids: tuple[str, ...] = ()


class RecordingChanged(_Event):
    """A recording of a call started, continued in another leg, or completed."""

    kind: Literal["recording"] = "recording"
    recording_id: str
    entry_id: str
    call_id: str | None = None
    state: RecordingState
    seq: int | None = None
    extension: str | None = None
    at: int
    completion_code: int | None = None


class RecordingStored(_Event):
    """A recording is stored by the PBX and can be downloaded."""

    kind: Literal["recording_stored"] = "recording_stored"
    recording_id: str
    entry_id: str
    at: int


class DtmfCollected(_Event):
    kind: Literal["dtmf"] = "dtmf"
    entry_id: str
    call_id: str
    seq: int | None = None
    digits: str
    location: str | None = None
    at: int


class CommandResult(_Event):
    """The PBX's asynchronous answer to a command we sent (route, callback, sms...)."""

    kind: Literal["command_result"] = "command_result"
    command: str
    command_id: str
    result: int
    at: int | None = None


class InquiryReceived(_Event):
    """A form, chat message or other inquiry from a channel other than the PBX.

    ``replied_at``: when the agency's side wrote in it (a Jivo transcript
    carries both sides), Unix seconds.
    """

    kind: Literal["inquiry"] = "inquiry"
    inquiry: Inquiry
    replied_at: int | None = None


class ReplyStatusReported(_Event):
    """A provider's word on one of our sent replies (a Wazzup ``statuses`` item).

    ``provider_id`` is the provider's id of the message (what ``Delivered.provider_id``
    gave the outbox); ``status`` is ``sent``, ``delivered``, ``read`` or ``error``.
    """

    kind: Literal["reply_status"] = "reply_status"
    provider_id: str = Field(min_length=1, max_length=500)
    status: str = Field(min_length=1, max_length=50)
    at: int | None = None  # Unix seconds, as the provider reported it
    detail: str | None = None


DomainEvent = Annotated[
    CallLegChanged | CallFinished | RecordingChanged | RecordingStored | DtmfCollected
    | CommandResult | InquiryReceived | ReplyStatusReported,
    Field(discriminator="kind"),
]
DOMAIN_EVENT = TypeAdapter(DomainEvent)

# Events that change what a call's communication says.
CALL_EVENTS = (CallLegChanged, CallFinished, RecordingChanged, RecordingStored)


class Envelope(BaseModel):
    """An accepted webhook: the domain event plus what makes it durable and deduplicable."""

    model_config = ConfigDict(frozen=True)

    source: str
    path: str
    raw: str
    dedup_key: str
    event: DomainEvent

    @property
    def entry_id(self) -> str | None:
        return getattr(self.event, "entry_id", None)

    @property
    def call_id(self) -> str | None:
        return getattr(self.event, "call_id", None)
