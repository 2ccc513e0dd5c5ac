"""The one way in for an inquiry that does not come over HTTP (the e-mail poller).

    outcome = await submit(app[INTAKE], inquiry, path="imap/mailbox/INBOX", raw=message_bytes)

Made durable like a PBX event (PostgreSQL, or the spool while it is away) and
filed by the inquiry pipeline; ``stored``, ``duplicate`` (the same source and
external id before: an e-mail's Message-ID) or ``spooled``. Raises
StorageUnavailable when nothing could keep it (take the message again later),
and daemon.intake.admission.EventNotStorable when PostgreSQL would refuse it (set it aside).
"""

from __future__ import annotations

from daemon.domain.inquiry import Inquiry
from daemon.inquiries.endpoints import envelope, raw_text
from daemon.intake.durable import Intake


async def submit(intake: Intake, inquiry: Inquiry, *, path: str, raw: bytes | str,
                 replied_at: int | None = None) -> str:
    text = raw_text(raw) if isinstance(raw, bytes) else raw_text(raw.encode("utf-8", "replace"))
    return await intake.accept(envelope(inquiry, path=path, raw=text, replied_at=replied_at))
