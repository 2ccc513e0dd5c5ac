"""One raw RFC 5322 message -> an ``Inquiry``, or the reason it is not one.

Pure: bytes in, a ``ParsedEmail`` out; nothing here talks to a server or a
database. The client's address is ``Reply-To`` over ``From`` (a site's
form-mailer sends from its own noreply address and puts the client in
Reply-To, RFC 5322 §3.6.2); the agency's own addresses never identify a
client. Auto-replies and bounces are recognised and skipped (RFC 3834).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.errors import HeaderParseError
from email.header import decode_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime
from typing import Literal

from adapters.email.decode import decode_bytes, html_to_text, repair_header, tidy
from adapters.email.phones import find_phone
from daemon.domain.inquiry import MAX_TEXT_CHARS, Inquiry
from daemon.domain.replies import ReplyAddress, by_email

CHANNEL: Literal["email"] = "email"
MAX_EXTERNAL_ID_CHARS = 500
BULK_PRECEDENCE = {"bulk", "junk", "list"}
BOUNCE_SENDERS = {"mailer-daemon", "postmaster"}
# Headers some mail services put on vacation replies instead of (or beside) Auto-Submitted.
AUTOREPLY_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Autoresponse")


@dataclass(frozen=True)
class ParsedEmail:
    """What one message says. ``inquiry`` is None exactly when ``skip_reason`` is set:
    ``auto_reply``, ``bulk``, ``bounce`` or ``own_address`` (sent by the agency itself)."""

    external_id: str
    subject: str | None
    inquiry: Inquiry | None
    skip_reason: str | None = None


def parse_email(
    raw: bytes,
    *,
    source: str,
    own_addresses: Iterable[str] = (),
    own_phones: Iterable[str] = (),
    now: datetime | None = None,
) -> ParsedEmail:
    """Read ``raw`` (as IMAP's ``BODY[]`` gives it) into an inquiry of ``source``.

    ``own_addresses`` (any case) are the agency's mailboxes; ``own_phones``
    (E.164) its numbers, never taken as the client's phone.
    """
    msg = message_from_bytes(raw, policy=policy.default)
    now = now or datetime.now(UTC)
    subject = header_text(msg, "Subject")
    external_id = message_id(msg, raw)
    skip = skip_reason(msg)
    if skip is not None:
        return ParsedEmail(external_id, subject, None, skip)

    own = {a.strip().lower() for a in own_addresses if a.strip()}
    name, email, sender_is_own = _client_address(msg, own)
    body = body_text(msg)
    phone = find_phone(f"{body}\n{subject or ''}", exclude=own_phones)
    if email is None and phone is None and sender_is_own:
        # The agency writing to itself (a copy of a manager's reply, a report):
        # nobody outside to reply to, so not an inquiry at all.
        return ParsedEmail(external_id, subject, None, "own_address")
    text = f"{subject}\n\n{body}" if subject else body
    inquiry = Inquiry(
        channel=CHANNEL,
        source=source,
        external_id=external_id,
        received_at=_sent_at(msg, now),
        name=name,
        phones=(phone,) if phone else (),
        emails=(email,) if email else (),
        text=text[:MAX_TEXT_CHARS] or None,
        reply_to=reply_address(msg, email, subject),
    )
    return ParsedEmail(external_id, subject, inquiry)


def reply_address(msg: Message, email: str | None, subject: str | None) -> ReplyAddress | None:
    """How to answer: to the client's address, threaded onto their message (In-Reply-To and
    References from its Message-ID and References) when they wrote it themselves. A form-mailer's
    notice (the client only in Reply-To, From someone else) was never in the client's mailbox:
    the answer starts a thread of its own, under the same subject."""
    own_message = any(addr == email for _, addr in _addresses(msg, "From"))
    parent = " ".join((header_text(msg, "Message-ID") or "").split()) if own_message else ""
    references = " ".join((header_text(msg, "References") or header_text(msg, "In-Reply-To") or "").split())
    if not parent.startswith("<"):
        parent, references = "", ""
    return by_email(email, message_id=parent[:1000] or None, references=references[:4000] or None,
                    subject=(subject or "")[:500] or None)


def skip_reason(msg: Message) -> str | None:
    """Why a message is machine-made and no client's inquiry, or None.

    RFC 3834: ``Auto-Submitted`` with any value but ``no``; ``Precedence``
    bulk/junk/list (older auto-responders and mailing lists); a delivery report
    (``multipart/report``), a ``MAILER-DAEMON``/``postmaster`` sender or an empty
    ``Return-Path`` (``<>``: the mark of a bounce).
    """
    auto = (header_text(msg, "Auto-Submitted") or "").split(";")[0].strip().lower()
    if auto and auto != "no":
        return "auto_reply"
    if any(msg.get(h) is not None for h in AUTOREPLY_HEADERS):
        return "auto_reply"
    if (header_text(msg, "Precedence") or "").strip().lower() in BULK_PRECEDENCE:
        return "bulk"
    if msg.get_content_type() == "multipart/report":
        return "bounce"
    return_path = header_text(msg, "Return-Path")
    if return_path is not None and return_path.strip() in ("<>", ""):
        return "bounce"
    for _, addr in _addresses(msg, "From"):
        if addr.split("@", 1)[0].lower() in BOUNCE_SENDERS:
            return "bounce"
    return None


def message_id(msg: Message, raw: bytes) -> str:
    """The Message-ID as written (angle brackets kept), else a stable hash of the message.

    Message-ID is only a SHOULD (RFC 5322 §3.6.4). Without it, the hash covers
    the author's headers and the body, not the whole message: relays add
    ``Received`` lines, so two deliveries of one message differ in bytes.
    """
    value = " ".join((header_text(msg, "Message-ID") or "").split())
    if value and len(value) <= MAX_EXTERNAL_ID_CHARS:
        return value
    digest = hashlib.sha256()
    for name in ("Message-ID", "Date", "From", "Reply-To", "To", "Subject"):
        digest.update(f"{name}:{header_text(msg, name) or ''}\n".encode("utf-8", "surrogatepass"))
    digest.update(_body_bytes(raw))
    return "sha256:" + digest.hexdigest()


def header_text(msg: Message, name: str) -> str | None:
    """The first ``name`` header, unfolded and decoded (RFC 2047 words in any charset,
    mislabelled ones and raw 8-bit bytes included); None when absent."""
    raw = next((value for key, value in msg.raw_items() if key.lower() == name.lower()), None)
    if raw is None:
        return None
    unfolded = "".join(str(raw).replace("\r\n", "\n").split("\n"))
    try:
        pieces = decode_header(unfolded)
    except (ValueError, LookupError, HeaderParseError):  # a malformed encoded word: keep it as written
        return repair_header(unfolded).strip()
    out = []
    for piece, charset in pieces:
        if isinstance(piece, str):
            out.append(repair_header(piece))
        elif charset is None:
            out.append(repair_header(piece.decode("raw-unicode-escape")))
        else:
            out.append(decode_bytes(piece, charset))
    return "".join(out).strip()


def body_text(msg: Message) -> str:
    """The message's readable text: its text/plain parts, else its HTML as text.

    Attachments (and what is inside an attached message) are not the client's
    words and are left out; ``multipart/alternative`` gives the plain variant
    (RFC 2046 §5.1.4) unless it has none.
    """
    plain: list[str] = []
    html: list[str] = []
    for part in _inline_parts(msg):
        ctype = part.get_content_type()
        if ctype not in ("text/plain", "text/html"):
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            continue
        text = decode_bytes(payload, part.get_param("charset"))  # type: ignore[arg-type]
        (plain if ctype == "text/plain" else html).append(text)
    if plain:
        return tidy("\n\n".join(plain))
    return tidy("\n\n".join(html_to_text(h) for h in html))


def _inline_parts(part: Message) -> Iterable[Message]:
    if part.is_multipart():
        for sub in part.get_payload():  # type: ignore[union-attr]
            yield from _inline_parts(sub)  # type: ignore[arg-type]
        return
    disposition = (part.get("Content-Disposition") or "").split(";")[0].strip().lower()
    if disposition != "attachment" and part.get_content_maintype() != "message":
        yield part


def _addresses(msg: Message, name: str) -> list[tuple[str, str]]:
    """(display name, lower-case address) pairs of an address header; [] when absent or unreadable.

    The email package parses the structure best (quoted commas, groups), but it
    believes charset labels; when our own decoding reads the header differently
    (a mislabelled encoded word, raw 8-bit bytes), the names come from ours.
    """
    header = msg.get(name)
    if header is None:
        return []
    decoded = header_text(msg, name) or ""
    try:
        parsed = [(a.display_name or "", a.addr_spec) for a in getattr(header, "addresses", ())]
    except (ValueError, IndexError, HeaderParseError):  # the email package gave up: read it simply below
        parsed = []
    simple = getaddresses([decoded])
    if parsed and not all(display in decoded for display, _ in parsed):
        # The package read a name differently from us (a charset label it believed):
        # keep its structure, take our reading of the name where we found the same address.
        # (It also joins adjacent encoded words with a space, which RFC 2047 §6.2 drops.)
        ours = {addr.strip().lower(): display for display, addr in simple if display}
        if len(parsed) == 1:
            pattern = r'\s*"?(.*?)"?\s*<\s*' + re.escape(parsed[0][1]) + r"\s*>\s*"
            only = re.fullmatch(pattern, decoded, re.DOTALL | re.IGNORECASE)
            if only and only.group(1).strip():
                ours[parsed[0][1].lower()] = only.group(1)
        parsed = [(ours.get(addr.lower(), display), addr) for display, addr in parsed]
    pairs = parsed or simple
    return [(n.strip(), a.strip().lower()) for n, a in pairs if "@" in a and not a.startswith("@")]


def _client_address(msg: Message, own: set[str]) -> tuple[str | None, str | None, bool]:
    """(name, address, sent by the agency) of whom to reply to: Reply-To over From,
    the agency's own addresses skipped."""
    senders = _addresses(msg, "Reply-To") + _addresses(msg, "From")
    for display, addr in senders:
        if addr not in own:
            return display or None, addr, False
    return None, None, bool(senders)


def _sent_at(msg: Message, now: datetime) -> datetime:
    """The Date header (the author's clock), never later than now; now when unreadable."""
    value = header_text(msg, "Date")
    try:
        sent = parsedate_to_datetime(value) if value else None
    except (TypeError, ValueError, IndexError):
        sent = None
    if sent is None:
        return now
    if sent.tzinfo is None:
        sent = sent.replace(tzinfo=UTC)
    return min(sent, now)


def _body_bytes(raw: bytes) -> bytes:
    for sep in (b"\r\n\r\n", b"\n\n"):
        _, found, body = raw.partition(sep)
        if found:
            return body
    return b""
