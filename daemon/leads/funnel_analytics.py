"""``GET /api/analytics/funnel``: per ad source, manager or channel, how far the window's leads went.

Its own query (``funnel_figures``), apart from the channel analytics: a row per
group with, per stage, how many leads reached it (were ever at it or a later
one), their share of the first stage, and the median hours from reaching the
previous stage. docs/LEADS.md defines each figure.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
from aiohttp import web

from config.settings import FunnelSettings
from daemon.domain.errors import BadInput
from daemon.http.boundary import json_response
from daemon.leads.analytics_api import window
from daemon.runtime.keys import RELOADER, REPOSITORY
from daemon.store.queries import q
from daemon.store.repository import translated_errors

FUNNEL_GROUPINGS = ("ad_source", "manager", "channel")


def _stages(records: list[asyncpg.Record], stages: tuple[str, ...]) -> list[dict[str, Any]]:
    by_k = {r["k"]: r for r in records}
    first = by_k[1]["reached"] if 1 in by_k else 0
    out = []
    for k, stage in enumerate(stages, start=1):
        record = by_k.get(k)
        reached = record["reached"] if record else 0
        median = record["median_hours"] if record else None
        out.append({"stage": stage, "reached": reached,
                    "share_of_first": round(reached / first, 4) if first else None,
                    "median_hours_from_previous": None if median is None or k == 1 else round(median, 2)})
    return out


async def funnel(pool: asyncpg.Pool, *, since: datetime, until: datetime, by: str,
                 funnel_settings: FunnelSettings) -> dict[str, Any]:
    """The funnel of the leads opened in [since, until) per ``by`` group, the biggest first, and its totals."""
    stages = funnel_settings.stages
    with translated_errors():
        records = await pool.fetch(q("funnel_figures"), since, until, list(stages), by)
    groups: dict[Any, list[asyncpg.Record]] = {}
    totals: list[asyncpg.Record] = []
    for record in records:
        (totals if record["is_total"] else groups.setdefault(record["key"], [])).append(record)
    rows = [{"key": key, "stages": _stages(found, stages)} for key, found in groups.items()]
    rows.sort(key=lambda r: (-r["stages"][0]["reached"], r["key"] is None, str(r["key"] or "")))
    return {"since": since.isoformat(), "until": until.isoformat(), "by": by, "rows": rows,
            "totals": {"key": None, "stages": _stages(totals, stages)}}


async def funnel_handler(request: web.Request) -> web.Response:
    settings = request.app[RELOADER].current
    by = request.query.get("by", "ad_source")
    if by not in FUNNEL_GROUPINGS:
        raise BadInput(400, f"by must be one of {', '.join(FUNNEL_GROUPINGS)}")
    since, until = window(request.query.get("since"), request.query.get("until"), settings)
    return json_response(await funnel(request.app[REPOSITORY].pool, since=since, until=until, by=by,
                                          funnel_settings=settings.funnel))
