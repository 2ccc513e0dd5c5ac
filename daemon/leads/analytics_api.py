"""``GET /api/analytics`` (the table, any format) and ``GET /api/analytics/charts`` (its two SVGs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web

from config.settings import Settings
from daemon.domain.errors import BadInput
from daemon.http.boundary import json_response
from daemon.leads.analytics import GROUPINGS, analytics, analytics_json
from daemon.leads.charts import bars, daily, sales
from daemon.leads.render import (
    ANALYTICS_FORMATS,
    CONTENT_TYPES,
    render_csv,
    render_html,
    render_text,
)
from daemon.leads.rung import analytics_for_people
from daemon.leads.wish_analytics import WISH_GROUPINGS, by_destination
from daemon.report.window import WindowError, parse_time
from daemon.routing.policy import OfficeHours
from daemon.runtime.keys import RELOADER, REPOSITORY

DEFAULT_DAYS = 30
MAX_DAYS = 732  # two years: one query, counted in memory


def window(since: str | None, until: str | None, settings: Settings) -> tuple[datetime, datetime]:
    """The asked window (office time when no offset is given); default the last 30 days.
    WindowError (a 400 over HTTP) otherwise."""
    end = parse_time(until, settings.tz, name="until") if until else datetime.now(UTC)
    start = parse_time(since, settings.tz, name="since") if since else end - timedelta(days=DEFAULT_DAYS)
    if end <= start:
        raise WindowError("until must be after since")
    if end - start > timedelta(days=MAX_DAYS):
        raise WindowError(f"the window may span at most {MAX_DAYS} days")
    return start, end


async def table(request: web.Request) -> web.Response:
    settings = request.app[RELOADER].current
    by, fmt = request.query.get("by", "ad_source"), request.query.get("format", "json")
    if by not in GROUPINGS + WISH_GROUPINGS:
        raise BadInput(400, f"by must be one of {', '.join(GROUPINGS + WISH_GROUPINGS)}")
    if fmt not in ANALYTICS_FORMATS:
        raise BadInput(400, f"format must be one of {', '.join(ANALYTICS_FORMATS)}")
    since, until = window(request.query.get("since"), request.query.get("until"), settings)
    hours = OfficeHours.from_settings(settings)
    if by in WISH_GROUPINGS:  # what the tourists want: read from the leads' wishes
        result = await by_destination(request.app[REPOSITORY].pool, since=since, until=until, hours=hours)
    else:  # by manager, a missed call counts against the managers it rang (daemon/leads/rung.py)
        result = await analytics_for_people(request.app[REPOSITORY].pool, since=since, until=until, by=by,
                                            hours=hours, sla=settings.sla)
    days = None
    if fmt == "html":
        days = (await analytics(request.app[REPOSITORY].pool, since=since, until=until, by="day",
                                hours=hours, sla=settings.sla)).rows
    if fmt == "json":
        return json_response(analytics_json(result))
    text = {"csv": render_csv, "text": render_text}.get(fmt, lambda r: render_html(r, daily_rows=days))(result)
    return web.Response(text=text, content_type=CONTENT_TYPES[fmt], charset="utf-8")


async def charts(request: web.Request) -> web.Response:
    """The «Аналитика» tab's charts as SVG text: per ad source (inquiries; leads → sales → revenue),
    and per day."""
    settings = request.app[RELOADER].current
    since, until = window(request.query.get("since"), request.query.get("until"), settings)
    hours = OfficeHours.from_settings(settings)
    pool = request.app[REPOSITORY].pool
    per_source = await analytics(pool, since=since, until=until, by="ad_source", hours=hours)
    per_day = await analytics(pool, since=since, until=until, by="day", hours=hours)
    return json_response({
        "ad_source": bars(per_source.rows, title="Обращения и пропущенные по рекламе"),
        "sales": sales(per_source.rows, title="Лиды → продажи → выручка по рекламе"),
        "daily": daily(per_day.rows, title="Обращения по дням и доля пропущенных"),
    })


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/analytics", table)
    app.router.add_get("/api/analytics/charts", charts)
