"""The analytics as text, CSV, JSON and HTML (the HTML with the two SVG charts)."""

from __future__ import annotations

import csv
import io
import json
from html import escape
from typing import Any

from daemon.leads.analytics import FIELDS, Analytics, analytics_json
from daemon.leads.charts import bars, daily
from daemon.report.render import csv_safe

ANALYTICS_FORMATS = ("text", "csv", "json", "html")
CONTENT_TYPES = {"text": "text/plain", "csv": "text/csv", "json": "application/json", "html": "text/html"}
HEADINGS = {
    "inquiries": "Обращений", "contacts": "Контактов", "new_contacts": "Новых", "leads_opened": "Лидов открыто",
    "leads_joined": "Лидов продолжено", "calls": "Звонков", "missed": "Пропущено", "missed_share": "Доля пропущ.",
    "called_back_15m": "Перезвон ≤15 мин", "called_back_same_day": "Перезвон в тот же день",
    "first_answer_p50_s": "Первый ответ, медиана (с)", "first_answer_p90_s": "Первый ответ, 90% (с)",
    "answered_in_sla_share": "Отвечено в срок",
    "won": "Продажи", "lost": "Отказы", "lost_reasons": "Причины отказов", "open": "В работе",
    "revenue": "Выручка",
}


def cell(name: str, value: Any) -> str:
    if value is None:
        return ""
    if name == "lost_reasons":
        return "; ".join(f"{reason}: {n}" for reason, n in value.items())
    if name in ("missed_share", "answered_in_sla_share"):
        return f"{value * 100:.1f} %"
    if name == "revenue":
        return f"{value:,.2f}".replace(",", " ")
    return str(value)


def key_text(key: Any) -> str:
    return "(нет)" if key is None else str(key)


def render_json(result: Analytics) -> str:
    return json.dumps(analytics_json(result), ensure_ascii=False, indent=2) + "\n"


def render_csv(result: Analytics) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["key", *FIELDS])
    for row in [*result.rows, {"key": "TOTAL", **result.totals}]:
        values = [("" if row[name] is None else json.dumps(row[name], ensure_ascii=False))
                  if name == "lost_reasons" else ("" if row[name] is None else row[name]) for name in FIELDS]
        writer.writerow(["" if row["key"] is None else csv_safe(str(row["key"])), *values])
    return out.getvalue()


def render_text(result: Analytics) -> str:
    lines = [f"Analytics by {result.by}, {result.since.isoformat()} .. {result.until.isoformat()}"]
    for row in [*result.rows, {"key": "ИТОГО", **result.totals}]:
        lines.append("")
        lines.append(key_text(row["key"]))
        lines += [f"  {HEADINGS[name]}: {cell(name, row[name]) or '—'}" for name in FIELDS]
    return "\n".join(lines) + "\n"


def render_table(result: Analytics) -> str:
    """The table alone (the report's HTML and the «Аналитика» tab share it)."""
    head = "".join(f"<th>{escape(HEADINGS[n])}</th>" for n in FIELDS)
    body = []
    for row, css in [*((r, "") for r in result.rows), ({"key": "Итого", **result.totals}, ' class="total"')]:
        cells = "".join(f"<td>{escape(cell(n, row[n]))}</td>" for n in FIELDS)
        body.append(f"<tr{css}><th>{escape(key_text(row['key']))}</th>{cells}</tr>")
    return (f'<table class="analytics"><thead><tr><th>{escape(result.by)}</th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table>")


def render_html(result: Analytics, *, daily_rows: list[dict[str, Any]] | None = None) -> str:
    title = f"Аналитика: {result.by}, {result.since.date()} — {result.until.date()}"
    charts = [bars(result.rows, title="Обращения и пропущенные по группам")]
    if daily_rows is not None:
        charts.append(daily(daily_rows, title="Обращения по дням и доля пропущенных"))
    return ("<!DOCTYPE html>\n<html lang=\"ru\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
            f"<h1>{escape(title)}</h1>{''.join(charts)}{render_table(result)}</body></html>\n")


STYLE = ("body{font-family:sans-serif;margin:1.5rem;color:#1f2a44}svg{max-width:720px;display:block;"
         "margin:1rem 0}table{border-collapse:collapse;font-size:.85rem}td,th{border:1px solid #ccd;"
         "padding:.25rem .4rem;text-align:right}tbody th{text-align:left}tr.total{font-weight:bold}")
