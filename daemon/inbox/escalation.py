"""The e-mail that says which inbox items waited past their escalation time (``sla_notify_email``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from config.settings import Settings

CHANNEL_NAMES = {"call": "пропущенный звонок", "web_form": "заявка с сайта", "chat": "чат",
                 "telegram": "Telegram", "vk": "ВКонтакте", "email": "письмо", "api": "заявка"}


def _line(item: dict[str, Any], settings: Settings) -> str:
    received = datetime.fromisoformat(item["received_at"]).astimezone(settings.tz)
    who = item.get("name") or item.get("phone") or f"контакт #{item.get('contact_id')}"
    text = (item.get("last_text") or "").replace("\n", " ")[:120]
    return (f"- #{item['id']} {CHANNEL_NAMES.get(item['channel'], item['channel'])}: {who}, "
            f"с {received:%d.%m %H:%M}; передано {item.get('assigned_extension') or 'никому'}"
            + (f"; «{text}»" if text else ""))


def escalation_message(items: Sequence[dict[str, Any]], settings: Settings) -> EmailMessage:
    """Plain Russian text: one line per item escalated."""
    to = settings.sla.notify_email or ""
    sender = settings.report.email_from or to
    message = EmailMessage()
    message["Subject"] = f"Без ответа дольше срока: {len(items)}"
    message["From"] = sender
    message["To"] = to
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    minutes = settings.sla.escalate_after_minutes
    lines = [f"Эти обращения остались без ответа через {minutes} мин после срока и переданы другому менеджеру:",
             "", *(_line(item, settings) for item in items)]
    message.set_content("\n".join(lines) + "\n")
    return message
