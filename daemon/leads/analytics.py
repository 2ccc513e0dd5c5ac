"""Channel analytics: per ad source, channel, line, manager or day, what the inquiries became.

One query (``analytics_figures``) counts every figure per group and for all the
inquiries of the window, so that every group and the totals use the same
definitions (docs/REPORTS.md, «Channel analytics»). It reads only ``inquiry_facts``,
one row per inquiry with what it became and when the same contact's and lead's
previous inquiry started (distinct counts without a sort), which triggers keep
equal to its view as communications, contacts, leads and trips change
(migrations 0017, 0019). Only the waits to the first answer are counted here
when office hours are set: office seconds (daemon/leads/officetime.py) are the
calendar's, not the database's.

``aggregate`` counts the same figures from one row per inquiry
(``analytics_inquiries``): the definitions in Python, kept as the reference the
query is tested against.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from config.settings import SlaSettings
from daemon.leads.officetime import office_seconds, percentile
from daemon.routing.policy import OfficeHours
from daemon.store.queries import q
from daemon.store.repository import translated_errors
from daemon.store.settle import settle

GROUPINGS = ("ad_source", "channel", "line", "manager", "day")
FIELDS = ("inquiries", "contacts", "new_contacts", "leads_opened", "leads_joined", "calls", "missed",
          "missed_share", "called_back_15m", "called_back_same_day", "first_answer_p50_s",
          "first_answer_p90_s", "answered_in_sla_share", "won", "lost", "lost_reasons", "open", "revenue")
CALLED_BACK_S = 15 * 60
# For this transaction only: 90 days of a mid-size agency sort about 6 MB twice,
# beyond PostgreSQL's default 4 MB (to disk, then merged).
WORK_MEM = "32MB"
DEFAULT_SLA = SlaSettings()


@dataclass(frozen=True)
class Analytics:
    since: datetime
    until: datetime
    by: str
    rows: list[dict[str, Any]]
    totals: dict[str, Any]
    timezone: str


def _key(row: dict[str, Any], by: str, hours: OfficeHours) -> Any:
    if by == "day":
        return row["started_at"].astimezone(hours.tz).date().isoformat()
    column = {"line": "line_number", "manager": "manager_extension"}.get(by, by)
    return row[column]


def _first_answer(row: dict[str, Any]) -> datetime | None:
    """A live answer or a later answered call, or a reply, whichever came first."""
    found = [t for t in (row["answered_at"] or row["reached_at"], row.get("replied_at")) if t is not None]
    return min(found) if found else None


def figures(rows: list[dict[str, Any]], hours: OfficeHours, sla: SlaSettings = DEFAULT_SLA) -> dict[str, Any]:
    """Every figure of one group of inquiry rows (docs/REPORTS.md defines each)."""
    opened = {r["lead_id"]: r for r in rows if r["opened_lead"]}
    touched = {r["lead_id"] for r in rows if r["lead_id"] is not None}
    calls = [r for r in rows if r["channel"] == "call"]
    missed = [r for r in calls if r["status"] == "missed"]
    answered = [(r, office_seconds(hours, r["started_at"], end)) for r in rows
                if (end := _first_answer(r)) is not None]
    waits = [wait for _, wait in answered]
    in_sla = sum(1 for r, wait in answered if wait <= sla.minutes_for(r["channel"]) * 60)
    lost_reasons: dict[str, int] = {}
    for lead in opened.values():
        if lead["lead_status"] == "lost":
            reason = lead["lead_reason"] or "—"
            lost_reasons[reason] = lost_reasons.get(reason, 0) + 1
    p50, p90 = percentile(waits, 0.5), percentile(waits, 0.9)
    return {
        "inquiries": len(rows),
        "contacts": len({r["contact_id"] for r in rows if r["contact_id"] is not None}),
        "new_contacts": len({r["contact_id"] for r in rows if r["new_contact"]}),
        "leads_opened": len(opened),
        "leads_joined": len(touched - set(opened)),
        "calls": len(calls),
        "missed": len(missed),
        "missed_share": round(len(missed) / len(calls), 4) if calls else None,
        "called_back_15m": sum(1 for r in missed if _reached_within(r, CALLED_BACK_S)),
        "called_back_same_day": sum(1 for r in missed if _reached_same_day(r, hours)),
        "first_answer_p50_s": None if p50 is None else round(p50, 1),
        "first_answer_p90_s": None if p90 is None else round(p90, 1),
        "answered_in_sla_share": _share(in_sla, len(rows)),
        "won": sum(1 for r in opened.values() if r["lead_status"] == "won"),
        "lost": sum(lost_reasons.values()),
        "lost_reasons": dict(sorted(lost_reasons.items())),
        "open": sum(1 for r in opened.values() if r["lead_status"] == "open"),
        "revenue": float(sum((Decimal(r["lead_revenue"]) for r in opened.values()), Decimal(0))),
    }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _reached_within(row: dict[str, Any], seconds: int) -> bool:
    reached = row["reached_at"]
    return reached is not None and (reached - row["ended_at"]).total_seconds() <= seconds


def _reached_same_day(row: dict[str, Any], hours: OfficeHours) -> bool:
    reached = row["reached_at"]
    return reached is not None and (reached.astimezone(hours.tz).date()
                                    == row["started_at"].astimezone(hours.tz).date())


def _days(since: datetime, until: datetime, hours: OfficeHours) -> Iterable[str]:
    day: date = since.astimezone(hours.tz).date()
    last = (until - timedelta(microseconds=1)).astimezone(hours.tz).date()
    while day <= last:
        yield day.isoformat()
        day += timedelta(days=1)


def _order(item: tuple[Any, list[dict[str, Any]]]) -> tuple[Any, ...]:
    key, rows = item
    return (-len(rows), key is None, str(key or ""))


def aggregate(rows: list[dict[str, Any]], *, since: datetime, until: datetime, by: str,
              hours: OfficeHours, sla: SlaSettings = DEFAULT_SLA) -> Analytics:
    groups: dict[Any, list[dict[str, Any]]] = {}
    if by == "day":  # every day of the window, quiet ones too: the chart has no gaps
        groups = {day: [] for day in _days(since, until, hours)}
    for row in rows:
        groups.setdefault(_key(row, by, hours), []).append(row)
    items = sorted(groups.items()) if by == "day" else sorted(groups.items(), key=_order)
    return Analytics(since=since, until=until, by=by, timezone=hours.tz.key,
                     rows=[{"key": key, **figures(group, hours, sla)} for key, group in items],
                     totals=figures(rows, hours, sla))


def _counted(record: asyncpg.Record, hours: OfficeHours) -> tuple[dict[str, Any], list[float], int]:
    """One row of ``analytics_figures`` as the figures' dict, its waits in office seconds, and how
    many of them were within the channel's [sla] time."""
    row = {name: record[name] for name in FIELDS if name in record}
    calls, missed = record["calls"], record["missed"]
    row["missed_share"] = round(missed / calls, 4) if calls else None
    row["revenue"] = float(Decimal(record["revenue"]))
    row["lost_reasons"] = dict(sorted(json.loads(record["lost_reasons"]).items()))
    waits: list[float] = []
    if hours.configured:
        waits = [office_seconds(hours, start, end)
                 for start, end in zip(record["wait_starts"] or (), record["wait_ends"] or (), strict=True)]
        in_sla = sum(1 for wait, sla_s in zip(waits, record["wait_slas"] or (), strict=True) if wait <= sla_s)
        p50, p90 = percentile(waits, 0.5), percentile(waits, 0.9)
    else:
        in_sla = record["in_sla_clock"]
        p50, p90 = record["clock_waits"] or (None, None)
    row["first_answer_p50_s"] = None if p50 is None else round(p50, 1)
    row["first_answer_p90_s"] = None if p90 is None else round(p90, 1)
    row["answered_in_sla_share"] = _share(in_sla, record["inquiries"])
    return {name: row[name] for name in FIELDS}, waits, in_sla


async def analytics(pool: asyncpg.Pool, *, since: datetime, until: datetime, by: str,
                    hours: OfficeHours, sla: SlaSettings = DEFAULT_SLA) -> Analytics:
    if by not in GROUPINGS:
        raise ValueError(f"by must be one of {', '.join(GROUPINGS)}")
    await settle(pool)  # the facts of the inquiries the webhooks just filed (daemon/store/settle.py)
    with translated_errors():
        async with pool.acquire() as conn, conn.transaction():
            # The query's sorts and hashes stay in memory; its plan is made for this grouping.
            await conn.execute(q("analytics_settings"), WORK_MEM)
            records = await conn.fetch(q("analytics_figures"), since, until, hours.tz.key, by,
                                       hours.configured, float(CALLED_BACK_S), json.dumps(sla.channels),
                                       float(sla.first_response_minutes))
    groups: dict[Any, dict[str, Any]] = {}
    totals: dict[str, Any] = figures([], hours)
    all_waits: list[float] = []
    all_in_sla = 0
    for record in records:
        row, waits, in_sla = _counted(record, hours)
        if record["is_total"]:
            totals = row
        else:
            groups[record["key"]] = row
            all_waits += waits
            all_in_sla += in_sla
    if hours.configured:  # the totals' waits are every group's: counted once, above
        p50, p90 = percentile(all_waits, 0.5), percentile(all_waits, 0.9)
        totals["first_answer_p50_s"] = None if p50 is None else round(p50, 1)
        totals["first_answer_p90_s"] = None if p90 is None else round(p90, 1)
        totals["answered_in_sla_share"] = _share(all_in_sla, totals["inquiries"])
    return Analytics(since=since, until=until, by=by, timezone=hours.tz.key,
                     rows=_ordered(groups, since=since, until=until, by=by, hours=hours), totals=totals)


def _ordered(groups: dict[Any, dict[str, Any]], *, since: datetime, until: datetime, by: str,
             hours: OfficeHours) -> list[dict[str, Any]]:
    """Days in order, every day of the window (the chart has no gaps); other groups biggest first."""
    if by == "day":
        empty = figures([], hours)
        return [{"key": day, **groups.get(day, empty)} for day in _days(since, until, hours)]
    keys = sorted(groups, key=lambda key: (-groups[key]["inquiries"], key is None, str(key or "")))
    return [{"key": key, **groups[key]} for key in keys]


def analytics_json(result: Analytics) -> dict[str, Any]:
    return {"since": result.since.isoformat(), "until": result.until.isoformat(), "by": result.by,
            "timezone": result.timezone, "rows": result.rows, "totals": result.totals}
