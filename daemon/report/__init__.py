"""The morning missed-call report: whom to call back, by responsible manager.

``window`` picks the default time window, ``query`` shapes the rows,
``render``/``html`` write them for programs and for people, ``mail`` sends
them, ``api`` serves them at ``GET /api/reports/missed``.

May import: ``daemon.domain``, ``daemon.store``, ``daemon.http`` and ``daemon.runtime`` (keys).
"""

from __future__ import annotations

from collections.abc import Callable

from daemon.report.html import render_html
from daemon.report.query import MissedReport, MissedRow, missed_report
from daemon.report.render import CONTENT_TYPES, FORMATS, render_csv, render_json, render_text

RENDERERS: dict[str, Callable[[MissedReport], str]] = {
    "text": render_text,
    "csv": render_csv,
    "json": render_json,
    "html": render_html,
}

__all__ = ["CONTENT_TYPES", "FORMATS", "RENDERERS", "MissedReport", "MissedRow", "missed_report"]
