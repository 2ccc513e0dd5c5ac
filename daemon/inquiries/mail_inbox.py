"""Filing an e-mail inquiry where the inquiry pipeline is not there: the raw message in the inbox.

The mailbox poller is given a ``FileInquiry``. In the daemon that is the
inquiry pipeline (contact, lead, communication); this one only makes the
message durable under its dedup key, which is all the poller needs to move it
out of the folder and never take it twice. The inbox keeps the message
verbatim: UTF-8 when it is UTF-8 (almost all mail), else each byte as the
Latin-1 character of the same number, marked in ``path`` (``raw=latin-1``),
so that ``raw.encode("latin-1")`` gives the original bytes back.
"""

from __future__ import annotations

from daemon.domain.inquiry import Inquiry
from daemon.inquiries.mailbox import FileInquiry
from daemon.store.queries import q
from daemon.store.repository import Repository


def dedup_key(inquiry: Inquiry) -> str:
    return f"inquiry:{inquiry.source}:{inquiry.external_id}"


def raw_as_text(raw: bytes) -> tuple[str, bool]:
    """(text, is_latin1): the bytes as text PostgreSQL can hold, reversibly."""
    if b"\x00" not in raw:
        try:
            return raw.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    # NUL has no place in a text column (nor in RFC 5322 mail); keep it visible.
    return raw.replace(b"\x00", b"\\x00").decode("latin-1"), True


def inbox_filer(repo: Repository, *, folder: str) -> FileInquiry:
    async def file(inquiry: Inquiry, raw: bytes) -> str:
        text, latin1 = raw_as_text(raw)
        path = f"imap/{folder}" + ("?raw=latin-1" if latin1 else "")
        async with repo.transaction() as tx:
            row_id = await tx.conn.fetchval(q("insert_mail_inbox"), dedup_key(inquiry), inquiry.source,
                                            path, text, inquiry.model_dump_json())
        return "stored" if row_id is not None else "duplicate"

    return file
