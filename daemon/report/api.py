"""``GET /api/reports/missed``: the report over HTTP, behind the API's bearer token.

Parameters are those of ``callbridge report missed``: ``since``, ``until``
(ISO 8601; without an offset, office time), ``all`` (``true`` to keep callers
already called back) and ``format`` (``json`` by default; ``csv``, ``html``
and ``text`` too). ``limit`` (1..5000, default 200) caps each list; what is
left out is counted (``more`` in JSON, «… и ещё N» in the others).
"""

from __future__ import annotations

from aiohttp import web

from daemon.domain.errors import BadInput
from daemon.http.boundary import json_response
from daemon.http.inputs import query_flag, query_int
from daemon.report import CONTENT_TYPES, FORMATS, RENDERERS, missed_report
from daemon.report.limits import ROWS_MAX, ROWS_SHOWN
from daemon.report.render import report_json
from daemon.report.window import report_window, resolve
from daemon.runtime.keys import RELOADER, REPOSITORY


async def missed(request: web.Request) -> web.Response:
    settings = request.app[RELOADER].current  # the office's hours may be reloaded
    query = request.query
    fmt = query.get("format", "json")
    if fmt not in FORMATS:
        raise BadInput(400, f"format must be one of {', '.join(FORMATS)}")
    include_all = query_flag(request, "all")
    limit = query_int(request, "limit", default=ROWS_SHOWN, most=ROWS_MAX)
    window = resolve(  # a WindowError is a 400 (daemon/http/boundary.py)
        lambda end: report_window(settings, end),
        since=query.get("since"),
        until=query.get("until"),
        tz=settings.tz,
        max_days=settings.report.max_window_days,
    )
    report = await missed_report(
        request.app[REPOSITORY],
        window,
        tz=settings.tz,
        include_called_back=include_all,
        limit=limit,
    )
    if fmt == "json":
        return json_response(report_json(report))
    return web.Response(
        text=RENDERERS[fmt](report), content_type=CONTENT_TYPES[fmt], charset="utf-8"
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/reports/missed", missed)
