"""Seconds that fall within office hours: time to first answer does not grow overnight."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from daemon.routing.policy import OfficeHours


def office_seconds(hours: OfficeHours, start: datetime, end: datetime) -> float:
    """Seconds of [start, end) within office hours (holidays closed); all of them if no hours are set."""
    if end <= start:
        return 0.0
    if not hours.configured:
        return (end - start).total_seconds()
    total = 0.0
    day = start.astimezone(hours.tz).date()
    last = end.astimezone(hours.tz).date()
    while day <= last:
        if day not in hours.holidays:
            for open_at, close_at in hours.week[day.weekday()]:
                lo = datetime.combine(day, open_at, tzinfo=hours.tz)
                hi = (datetime.combine(day, close_at, tzinfo=hours.tz) if close_at is not None
                      else datetime.combine(day + timedelta(days=1), time(0), tzinfo=hours.tz))
                overlap = (min(hi, end) - max(lo, start)).total_seconds()
                total += max(0.0, overlap)
        day += timedelta(days=1)
    return total


def percentile(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between closest ranks (PostgreSQL's percentile_cont); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
