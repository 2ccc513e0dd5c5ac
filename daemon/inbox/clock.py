"""When an inbox item is due: ``[sla]`` minutes for its channel, counted in office hours."""

from __future__ import annotations

from datetime import datetime

from config.settings import Settings
from daemon.leads.officetime import office_deadline
from daemon.routing.policy import OfficeHours


def due_at(settings: Settings, *, channel: str, received_at: datetime) -> datetime:
    """``received_at`` plus the channel's first-response minutes of office time
    (``[routing] office_hours`` and ``holidays``; round the clock without them)."""
    minutes = settings.sla.minutes_for(channel)
    return office_deadline(OfficeHours.from_settings(settings), received_at, minutes * 60.0)
