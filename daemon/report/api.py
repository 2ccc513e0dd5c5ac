"""``GET /api/reports/missed``: the report over HTTP, behind the API's bearer token.

Parameters are those of ``callbridge report missed``: ``since``, ``until``
(ISO 8601; without an offset, office time), ``all`` (``true`` to keep callers
already called back) and ``format`` (``json`` by default; ``csv``, ``html``
and ``text`` too). ``limit`` (1..5000, default 200) caps each list; what is
left out is counted (``more`` in JSON, «… и ещё N» in the others).
"""

from __future__ import annotations

from aiohttp import web

from daemon.errors import StorageUnavailable
from daemon.keys import RELOADER, REPOSITORY
from daemon.report import CONTENT_TYPES, FORMATS, RENDERERS, missed_report
from daemon.report.limits import ROWS_MAX, ROWS_SHOWN
from daemon.report.render import report_json
from daemon.report.window import WindowError, report_window, resolve

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"", "0", "false", "no", "off"})


def _error(status: int, problem: str) -> web.Response:
    return web.json_response({"error": problem}, status=status)


async def missed(request: web.Request) -> web.Response:
    settings = request.app[RELOADER].current  # the office's hours may be reloaded
    query = request.query
    fmt = query.get("format", "json")
    include_all = query.get("all", "").lower()
    if fmt not in FORMATS:
        return _error(400, f"format must be one of {', '.join(FORMATS)}")
    if include_all not in TRUE_WORDS | FALSE_WORDS:
        return _error(400, "all must be true or false")
    limit_text = query.get("limit", str(ROWS_SHOWN))
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= ROWS_MAX:
        return _error(400, f"limit must be a whole number from 1 to {ROWS_MAX}")
    try:
        window = resolve(
            lambda end: report_window(settings, end),
            since=query.get("since"),
            until=query.get("until"),
            tz=settings.tz,
            max_days=settings.report_max_window_days,
        )
    except WindowError as exc:
        return _error(400, str(exc))
    try:
        report = await missed_report(
            request.app[REPOSITORY],
            window,
            tz=settings.tz,
            include_called_back=include_all in TRUE_WORDS,
            limit=int(limit_text),
        )
    except StorageUnavailable:
        return _error(503, "storage unavailable, retry later")
    if fmt == "json":
        return web.json_response(report_json(report))
    return web.Response(
        text=RENDERERS[fmt](report), content_type=CONTENT_TYPES[fmt], charset="utf-8"
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/reports/missed", missed)
