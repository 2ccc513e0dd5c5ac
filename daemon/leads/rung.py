"""Analytics by manager that a head of sales can read: a missed call counts against the managers it rang.

``analytics(by="manager")`` groups each inquiry by the manager who answered it, so every
missed call fell under «без менеджера» and «Пропущено»/«Перезвон» per manager said nothing.
Here the missed calls are counted again from the PBX's legs (``analytics_missed_by_rung_manager``):
a missed call counts for every extension it rang (both, when a group rang two), and one
that rang nobody stays under «без менеджера». Per manager the row then says:

- ``calls``: the calls he answered plus the missed calls that rang him;
- ``missed``, ``called_back_15m``, ``called_back_same_day``: those missed calls, and the
  ones whose caller was reached again (within 15 minutes, the same office day);
- ``missed_share``: missed ÷ calls. Every other figure stays the answering manager's.

The totals stay the window's own (a call that rang two managers is one missed call).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

import asyncpg

from config.settings import SlaSettings
from daemon.leads.analytics import CALLED_BACK_S, DEFAULT_SLA, Analytics, analytics, figures
from daemon.routing.policy import OfficeHours
from daemon.store.queries import q
from daemon.store.repository import translated_errors

RUNG_FIELDS = ("missed", "called_back_15m", "called_back_same_day")


async def analytics_for_people(pool: asyncpg.Pool, *, since: datetime, until: datetime, by: str,
                               hours: OfficeHours, sla: SlaSettings = DEFAULT_SLA) -> Analytics:
    """``analytics``, with the missed calls of a by-manager table counted against the managers rung."""
    result = await analytics(pool, since=since, until=until, by=by, hours=hours, sla=sla)
    if by != "manager":
        return result
    with translated_errors():
        records = await pool.fetch(q("analytics_missed_by_rung_manager"), since, until, hours.tz.key,
                                   float(CALLED_BACK_S))
    rung = {r["extension"]: {name: r[name] for name in RUNG_FIELDS} for r in records}
    return with_rung_managers(result, rung, hours)


def with_rung_managers(result: Analytics, rung: Mapping[str | None, Mapping[str, int]],
                       hours: OfficeHours) -> Analytics:
    """The by-manager rows with ``rung``'s missed counts (extension → figures; None: rang nobody)."""
    rows = {row["key"]: dict(row) for row in result.rows}
    empty = figures([], hours)
    for key in rung:
        rows.setdefault(key, {"key": key, **empty})
    for key, row in rows.items():
        counted = rung.get(key, dict.fromkeys(RUNG_FIELDS, 0))
        answered = row["calls"] - row["missed"]  # the grouping's missed calls are re-counted below
        row.update({name: counted[name] for name in RUNG_FIELDS})
        row["calls"] = answered + row["missed"]
        row["missed_share"] = round(row["missed"] / row["calls"], 4) if row["calls"] else None
    ordered = sorted(rows.values(), key=lambda r: (-(r["inquiries"] + r["missed"]), r["key"] is None,
                                                   str(r["key"] or "")))
    return replace(result, rows=ordered)


def rung_reference(missed_calls: Iterable[Mapping[str, Any]], rang: Mapping[int, Iterable[str]],
                   hours: OfficeHours) -> dict[str | None, dict[str, int]]:
    """The same counts from one row per missed call (``analytics_inquiries``' fields) and the
    extensions each one rang: the definitions in Python, the query's reference in tests."""
    out: dict[str | None, dict[str, int]] = {}
    for call in missed_calls:
        extensions: list[str | None] = [*sorted(set(rang.get(call["id"], ())))] or [None]
        for extension in extensions:
            counted = out.setdefault(extension, dict.fromkeys(RUNG_FIELDS, 0))
            reached = call["reached_at"]
            counted["missed"] += 1
            if reached is not None and (reached - call["ended_at"]).total_seconds() <= CALLED_BACK_S:
                counted["called_back_15m"] += 1
            if reached is not None and (reached.astimezone(hours.tz).date()
                                        == call["started_at"].astimezone(hours.tz).date()):
                counted["called_back_same_day"] += 1
    return out
