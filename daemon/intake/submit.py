"""The one way in for an inquiry that does not come over HTTP (the e-mail poller).

    outcome = await submit(app[INTAKE], inquiry, path="imap/mailbox/INBOX", raw=message_bytes)

Made durable like a PBX event (PostgreSQL, or the spool while it is away) and
filed by the inquiry projector; ``stored``, ``duplicate`` (the same source and
external id before: an e-mail's Message-ID) or ``spooled``. Raises
StorageUnavailable when nothing could keep it (take the message again later),
and daemon.intake.admission.EventNotStorable when PostgreSQL would refuse it (set it aside).

The envelope an inquiry travels in is made here, for the webhooks too: the
intake's side of an inquiry, which imports only the domain.
"""

from __future__ import annotations

from daemon.domain.events import Envelope, InquiryReceived, ReplyStatusReported
from daemon.domain.inquiry import Inquiry
from daemon.intake.durable import Intake


def raw_text(body: bytes) -> str:
    """The request as the inbox keeps it: text, with what text cannot hold (NUL, bad UTF-8) replaced."""
    return body.decode("utf-8", "replace").replace("\x00", "\ufffd")


def dedup_key(inquiry: Inquiry) -> str:
    return f"inquiry:{inquiry.source}:{inquiry.external_id}"


def envelope(inquiry: Inquiry, *, path: str, raw: str, replied_at: int | None = None) -> Envelope:
    return Envelope(source=inquiry.source, path=path, raw=raw, dedup_key=dedup_key(inquiry),
                    event=InquiryReceived(inquiry=inquiry, replied_at=replied_at))


def status_envelope(source: str, status: ReplyStatusReported, *, path: str, raw: str) -> Envelope:
    """A provider's state of our reply; each (message, state) once, whichever POST carried it."""
    return Envelope(source=source, path=path, raw=raw,
                    dedup_key=f"reply_status:{source}:{status.provider_id}:{status.status}", event=status)


async def submit(intake: Intake, inquiry: Inquiry, *, path: str, raw: bytes | str,
                 replied_at: int | None = None) -> str:
    text = raw_text(raw) if isinstance(raw, bytes) else raw_text(raw.encode("utf-8", "replace"))
    return await intake.accept(envelope(inquiry, path=path, raw=text, replied_at=replied_at))
