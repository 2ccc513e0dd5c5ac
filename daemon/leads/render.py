"""The analytics as text, CSV, JSON and HTML (the HTML with the SVG charts).

JSON is for programs (English keys, ISO dates); text, CSV and HTML are for the head of
sales: Russian headings, days as ``05.03.2025`` with their weekday, money as
``230 000,50 ₽``, waits as ``3 мин`` (daemon/domain/readable.py).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from daemon.domain import readable
from daemon.leads.analytics import FIELDS, Analytics, analytics_json
from daemon.leads.charts import bars, daily, sales
from daemon.report.render import csv_safe

ANALYTICS_FORMATS = ("text", "csv", "json", "html")
TOTAL = "Итого"
CONTENT_TYPES = {"text": "text/plain", "csv": "text/csv", "json": "application/json", "html": "text/html"}
HEADINGS = {
    "inquiries": "Обращений", "contacts": "Контактов", "new_contacts": "Новых", "leads_opened": "Лидов открыто",
    "leads_joined": "Лидов продолжено", "calls": "Звонков", "missed": "Пропущено", "missed_share": "Доля пропущ.",
    "called_back_15m": "Перезвон ≤15 мин", "called_back_same_day": "Перезвон в тот же день",
    "first_answer_p50_s": "Первый ответ, медиана", "first_answer_p90_s": "Первый ответ, 90%",
    "answered_in_sla_share": "Отвечено в срок",
    "won": "Продажи", "lost": "Отказы", "lost_reasons": "Причины отказов", "open": "В работе",
    "revenue": "Выручка",
}


# What the table is grouped by, as the title says it: «Аналитика по рекламе».
GROUPED_BY = {"ad_source": "рекламе", "channel": "каналам", "line": "линиям", "manager": "менеджерам",
              "day": "дням"}
GROUP_HEADINGS = {"ad_source": "Реклама", "channel": "Канал", "line": "Линия", "manager": "Менеджер",
                  "day": "День"}
CHANNELS = {"call": "звонок", "web_form": "заявка с сайта", "chat": "чат на сайте", "telegram": "Telegram",
            "vk": "ВКонтакте", "email": "e-mail", "api": "API"}
NO_KEY = {"ad_source": "без рекламы", "manager": "без менеджера", "line": "без линии"}
# Shown where revenue is: what it counts, so nobody reads it as the month's turnover.
REVENUE_NOTE = "Выручка: сумма оплаченных поездок, которыми выиграны лиды, открытые этими обращениями."

# The CSV keeps numbers as numbers: its headings say the unit.
CSV_HEADINGS = {"first_answer_p50_s": "Первый ответ, медиана (с)", "first_answer_p90_s": "Первый ответ, 90% (с)",
                "missed_share": "Доля пропущ. (0..1)", "revenue": "Выручка (₽)"}


def cell(name: str, value: Any) -> str:
    if value is None:
        return ""
    if name == "lost_reasons":
        return "; ".join(f"{reason}: {n}" for reason, n in value.items())
    if name in ("missed_share", "answered_in_sla_share"):
        return readable.share(value)
    if name == "revenue":
        return readable.money(value)
    if name.startswith("first_answer"):
        return readable.duration(value)
    return str(value)


def key_text(key: Any, by: str = "") -> str:
    """A group's name for people: a day with its weekday, a channel in Russian, «без рекламы» for none."""
    if key is None:
        return NO_KEY.get(by, "(нет)")
    if by == "day":
        return readable.named_day(date.fromisoformat(str(key)))
    if by == "channel":
        return CHANNELS.get(str(key), str(key))
    return str(key)


def span_text(result: Analytics) -> str:
    """``пн 03.03.2025 – пт 07.03.2025``: the window's first and last office day (``until`` is exclusive)."""
    tz = ZoneInfo(result.timezone)
    last = result.until.astimezone(tz) - timedelta(microseconds=1)
    return f"{readable.named_day(result.since, tz)} – {readable.named_day(last)}"


def render_json(result: Analytics) -> str:
    return json.dumps(analytics_json(result), ensure_ascii=False, indent=2) + "\n"


def render_csv(result: Analytics) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    # Russian headings for the spreadsheet; the numbers stay numbers (seconds, a share, roubles).
    writer.writerow([GROUP_HEADINGS.get(result.by, result.by),
                     *(CSV_HEADINGS.get(name, HEADINGS[name]) for name in FIELDS)])
    for row in [*result.rows, {"key": TOTAL, **result.totals}]:
        values = [("" if row[name] is None else json.dumps(row[name], ensure_ascii=False))
                  if name == "lost_reasons" else ("" if row[name] is None else row[name]) for name in FIELDS]
        key = row["key"] if row["key"] is TOTAL or result.by != "day" else readable.day(date.fromisoformat(row["key"]))
        writer.writerow(["" if key is None else csv_safe(str(key)), *values])
    return out.getvalue()


def title(result: Analytics) -> str:
    grouped = GROUPED_BY.get(result.by, result.by)  # a grouping added elsewhere is named by its key
    return f"Аналитика по {grouped}, {span_text(result)} (время офиса, {result.timezone})"


def render_text(result: Analytics) -> str:
    lines = [title(result), REVENUE_NOTE]
    for row in [*result.rows, {"key": TOTAL, **result.totals}]:
        lines.append("")
        lines.append(TOTAL.upper() if row["key"] is TOTAL else key_text(row["key"], result.by))
        lines += [f"  {HEADINGS[name]}: {cell(name, row[name]) or '—'}" for name in FIELDS]
    return "\n".join(lines) + "\n"


def render_table(result: Analytics) -> str:
    """The table alone (the report's HTML and the «Аналитика» tab share it)."""
    head = "".join(f"<th>{escape(HEADINGS[n])}</th>" for n in FIELDS)
    body = []
    for row, css in [*((r, "") for r in result.rows), ({"key": TOTAL, **result.totals}, ' class="total"')]:
        cells = "".join(f"<td>{escape(cell(n, row[n]))}</td>" for n in FIELDS)
        name = TOTAL if row["key"] is TOTAL else key_text(row["key"], result.by)
        body.append(f"<tr{css}><th>{escape(name)}</th>{cells}</tr>")
    group = escape(GROUP_HEADINGS.get(result.by, result.by))
    return (f'<table class="analytics"><thead><tr><th>{group}</th>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table><p class=\"note\">{escape(REVENUE_NOTE)}</p>")


def render_html(result: Analytics, *, daily_rows: list[dict[str, Any]] | None = None) -> str:
    heading = title(result)
    charts = [bars(result.rows, title="Обращения и пропущенные по группам")]
    if result.by == "ad_source":
        charts.append(sales(result.rows, title="Лиды → продажи → выручка по рекламе"))
    if daily_rows is not None:
        charts.append(daily(daily_rows, title="Обращения по дням и доля пропущенных"))
    return ("<!DOCTYPE html>\n<html lang=\"ru\"><head><meta charset=\"utf-8\">"
            f"<title>{escape(heading)}</title><style>{STYLE}</style></head><body>"
            f"<h1>{escape(heading)}</h1>{''.join(charts)}{render_table(result)}</body></html>\n")


STYLE = ("body{font-family:sans-serif;margin:1.5rem;color:#1f2a44}svg{max-width:720px;display:block;"
         "margin:1rem 0}table{border-collapse:collapse;font-size:.85rem}td,th{border:1px solid #ccd;"
         "padding:.25rem .4rem;text-align:right}tbody th{text-align:left}tr.total{font-weight:bold}")
