"""Sending the missed-call report by e-mail (SMTP settings, aiosmtplib)."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import aiosmtplib
import structlog

from config.settings import Settings, SettingsError
from daemon.domain import readable
from daemon.domain.errors import CallbridgeError
from daemon.report.html import render_html
from daemon.report.query import MissedReport
from daemon.report.render import local, render_csv, render_text

log = structlog.get_logger(__name__)


class MailError(CallbridgeError):
    """The SMTP server could not be reached or refused the message."""


def subject(report: MissedReport) -> str:
    """``Пропущенные звонки: перезвонить 3 (пн 07.12 08:30)``: the day the report is for, in office time."""
    until = local(report.window.until, report)
    return (f"Пропущенные звонки: перезвонить {report.to_call_back} "
            f"({readable.weekday(until)} {readable.moment(until, year=False)})")


def build_message(
    report: MissedReport, *, sender: str, recipients: tuple[str, ...]
) -> EmailMessage:
    """Text and HTML alternatives, and the CSV attached for a spreadsheet."""
    message = EmailMessage()
    message["Subject"] = subject(report)
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(render_text(report))
    message.add_alternative(render_html(report), subtype="html")
    day = readable.day(local(report.window.until, report))
    message.add_attachment(
        render_csv(report).encode("utf-8"),
        maintype="text",
        subtype="csv",
        filename=f"пропущенные-звонки-{day}.csv",
    )
    return message


def _require_mail_settings(settings: Settings) -> None:
    for name in ("smtp_host", "report_email_from"):
        settings.require(name)
    if not settings.report.email_to:
        raise SettingsError(
            "setting report_email_to is required for --email: "
            "set CALLBRIDGE_REPORT_EMAIL_TO=a@example.com,b@example.com"
        )


async def send_report(report: MissedReport, settings: Settings) -> None:
    """Send to ``report_email_to`` through ``smtp_host``; MailError when that fails."""
    _require_mail_settings(settings)
    message = build_message(
        report, sender=settings.report.email_from or "", recipients=settings.report.email_to
    )
    await send_message(message, settings, what="the report")
    log.info(
        "report_mailed",
        recipients=len(settings.report.email_to),
        rows=len(report.rows),
        smtp_host=settings.smtp.host,
    )


async def send_message(message: EmailMessage, settings: Settings, *, what: str) -> None:
    """Send one message through ``[smtp]``; MailError (naming ``what``) when that fails."""
    settings.require("smtp_host")
    password = settings.smtp.password.get_secret_value() if settings.smtp.password else None
    try:
        await aiosmtplib.send(
            message,
            hostname=settings.smtp.host,
            port=settings.smtp.port,
            username=settings.smtp.username,
            password=password,
            use_tls=settings.smtp.security == "tls",
            start_tls=settings.smtp.security == "starttls",
            timeout=settings.smtp.timeout_s,
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise MailError(
            f"sending {what} through {settings.smtp.host}:{settings.smtp.port} "
            f"failed: {exc.__class__.__name__}: {exc}"
        ) from exc
