"""Replies by e-mail: SMTP through the source's mail server, threaded so the client's mail program
shows the answer under their message.

``In-Reply-To`` is the client's ``Message-ID``; ``References`` their ``References``
(or ``In-Reply-To``) followed by it; the subject gets one «Re: » (never stacked).
A form's e-mail has no thread: a new message under the form's subject, or
«Ваша заявка». ``From`` is the source's ``reply_from``; the outbox fills the
source's ``smtp_*`` from the global ``[smtp]`` where it has none of its own.
A 5xx of the server is final (an address it will not take), a 4xx, a dropped
connection or a timeout is tried again; SMTP has no idempotency key.
"""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING

import aiosmtplib

from adapters.replying import missing
from daemon.domain.replies import Delivered, OutgoingReply, Refused, RetryLater, SendOutcome

if TYPE_CHECKING:
    import aiohttp

    from config.settings import SourceSettings

MAX_CHARS = 100_000  # generous: a letter, not a chat message
DEFAULT_SUBJECT = "Ваша заявка"
_REPLY_PREFIX = re.compile(r"^\s*((re|fwd?|ответ|отв)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
DEFAULT_TIMEOUT_S = 30.0


def reply_subject(subject: str | None) -> str:
    """«Re: » once before the client's subject (without their own Re:/Fwd:/Ответ: prefixes)."""
    bare = _REPLY_PREFIX.sub("", subject or "").strip()
    return f"Re: {bare}" if subject and bare else (f"Re: {subject.strip()}" if subject and subject.strip()
                                                   else DEFAULT_SUBJECT)


def build_message(reply: OutgoingReply, *, sender: str) -> EmailMessage:
    """The letter, with its threading headers; its Message-ID is on the sender's domain."""
    thread = reply.address.thread
    message = EmailMessage()
    message["From"] = sender
    message["To"] = reply.address.to
    message["Subject"] = reply_subject(thread.get("subject"))
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = sender.rpartition("@")[2].strip("> ") or "callbridge.invalid"
    message["Message-ID"] = make_msgid(idstring=f"reply.{reply.message_id}", domain=domain)
    parent = thread.get("message_id")
    if parent:
        message["In-Reply-To"] = parent
        message["References"] = " ".join(p for p in (thread.get("references"), parent) if p)
    if auto := reply.extras.get("auto_submitted"):
        message["Auto-Submitted"] = auto  # RFC 3834: no auto-responder answers it back
    message.set_content(reply.text)
    return message


class EmailReply:
    kind = "email"
    max_chars = MAX_CHARS
    idempotent = False

    async def send(self, session: aiohttp.ClientSession, source: SourceSettings,
                   reply: OutgoingReply) -> SendOutcome:
        if refused := missing(reply, {"smtp_host": source.smtp_host, "reply_from": source.reply_from},
                              hint=" (nor the global [smtp]): no mail server for replies"):
            return refused
        assert source.smtp_host is not None and source.reply_from is not None  # missing() said so
        message = build_message(reply, sender=source.reply_from)
        password = source.smtp_password.get_secret_value() if source.smtp_password else None
        security = source.smtp_security or "starttls"
        try:
            await aiosmtplib.send(message, hostname=source.smtp_host, port=source.smtp_port or 587,
                                  username=source.smtp_username, password=password,
                                  use_tls=security == "tls", start_tls=security == "starttls",
                                  timeout=float(reply.extras.get("timeout_s") or DEFAULT_TIMEOUT_S))
        except aiosmtplib.SMTPRecipientsRefused as exc:
            return _by_code(min((e.code for e in exc.recipients), default=550), str(exc))
        except aiosmtplib.SMTPResponseException as exc:
            return _by_code(exc.code, exc.message)
        except aiosmtplib.SMTPConnectError as exc:
            return RetryLater(f"cannot connect to {source.smtp_host}: {type(exc).__name__}")
        except (aiosmtplib.SMTPTimeoutError, TimeoutError):
            return RetryLater("the mail server did not answer in time", maybe_delivered=True)
        except (aiosmtplib.SMTPException, OSError) as exc:
            return RetryLater(f"mail server: {type(exc).__name__}", maybe_delivered=True)
        return Delivered(str(message["Message-ID"]))


def _by_code(code: int, text: str) -> SendOutcome:
    reason = f"SMTP {code}: {text}"[:300]
    return Refused(reason) if 500 <= code < 600 else RetryLater(reason)
