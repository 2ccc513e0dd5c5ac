"""The out-of-hours auto-reply: ``[sources.<name>] auto_reply`` with ``{next_open}``.

Queued by the inquiry projector in the inquiry's own transaction, so it is sent
exactly when the inquiry is filed: only when the office is closed at the moment
the inquiry was received (office hours and holidays as routing reads them; an
office without hours is never closed), only through a channel that can answer
it, and at most once per contact per ``[replies] auto_reply_every_h``. E-mail
marked ``Auto-Submitted`` or ``Precedence: bulk|list`` never gets here: it is
not an inquiry (adapters/email/parse.py), so no auto-reply answers a robot.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog

from config.settings import Settings
from daemon.inquiries.outbox import OutboxStore, Target, fill, reply_channel
from daemon.routing.policy import OfficeHours

log = structlog.get_logger(__name__)

ON_WEEKDAY = ("в понедельник", "во вторник", "в среду", "в четверг", "в пятницу", "в субботу", "в воскресенье")
MONTHS = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября", "октября",
          "ноября", "декабря")
SEARCH_DAYS = 366
AUTO_REPLY = "auto_reply"


def next_open(hours: OfficeHours, at: datetime) -> datetime | None:
    """When the office next opens after ``at`` (office time); None when it never does."""
    local = at.astimezone(hours.tz)
    for offset in range(SEARCH_DAYS):
        day = local.date() + timedelta(days=offset)
        if day in hours.holidays:
            continue
        for start, _ in hours.week[day.weekday()]:
            opening = datetime.combine(day, start, tzinfo=hours.tz)
            if opening > local:
                return opening
    return None


def when_text(opening: datetime, at: datetime) -> str:
    """«сегодня в 09:00», «в понедельник в 09:00», or «12 января в 09:00» a week or more ahead."""
    local = at.astimezone(opening.tzinfo)
    days = (opening.date() - local.date()).days
    clock = opening.strftime("%H:%M")
    if days == 0:
        return f"сегодня в {clock}"
    if days < 7:
        return f"{ON_WEEKDAY[opening.weekday()]} в {clock}"
    return f"{opening.day} {MONTHS[opening.month - 1]} в {clock}"


async def queue_auto_reply(store: OutboxStore, settings: Settings, target: Target, *, at: datetime) -> int | None:
    """Queue the source's auto-reply to ``target`` if the office is closed at ``at``; its message id."""
    source = settings.inquiries.sources.get(target.source or "")
    if source is None or not source.auto_reply:
        return None
    hours = OfficeHours.from_settings(settings)
    if not hours.configured or hours.is_open(at):
        return None
    channel = reply_channel(settings, target)
    if channel is None:
        return None
    if await store.auto_reply_sent_since(target.contact_id, target.communication_id,
                                         settings.replies.auto_reply_every_h * 3600):
        return None
    opening = next_open(hours, at)
    text = fill(source.auto_reply, {"next_open": when_text(opening, at) if opening else "как только сможем",
                                    "name": target.contact_name})[:channel.max_chars]
    message_id, _, _ = await store.enqueue(target=target, channel=channel.kind, kind=AUTO_REPLY, text=text,
                                           extension=None, idempotency_key=None)
    log.info("auto_reply_queued", communication_id=target.communication_id, message_id=message_id,
             channel=channel.kind)
    return message_id
