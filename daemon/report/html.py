"""The missed-call report as an HTML page (and e-mail body): one table per manager."""

from __future__ import annotations

from html import escape

from daemon.report.inquiries import section_html
from daemon.report.limits import more_text
from daemon.report.query import MissedReport, MissedRow
from daemon.report.render import (
    age_text,
    line_for_people,
    manager_title,
    readable_phone,
    summary_line,
    when,
    window_title,
)

STYLE = (
    "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}"
    "h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.5em}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}"
    "th{background:#f3f3f3}tr.done td{color:#888}"
)
COLUMNS = ("Телефон", "Абонент", "Пропущено", "Когда", "Ждёт", "Линия", "Реклама", "Перезвонили")


def _cells(row: MissedRow, report: MissedReport) -> str:
    phone = readable_phone(row.phone)
    if row.phone and row.phone.startswith("+"):
        phone_cell = f'<a href="tel:{escape(row.phone)}">{escape(phone)}</a>'
    else:
        phone_cell = escape(phone)
    values = [
        escape(row.contact_name or "—"),
        str(row.missed_calls),
        escape(when(row, report)),
        escape(age_text(report, row).removeprefix("ждёт ") or "—"),
        escape(line_for_people(row.line_number)),
        escape(row.ad_source or "—"),
        "да" if row.called_back else "нет",
    ]
    if row.do_not_call_reason is not None:
        values[-1] = f"не звонить: {escape(row.do_not_call_reason)}"
    return f"<td>{phone_cell}</td>" + "".join(f"<td>{v}</td>" for v in values)


def render_html(report: MissedReport) -> str:
    title = f"Пропущенные звонки, {window_title(report)}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="ru"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f"<p>{escape(summary_line(report))}</p>",
    ]
    header = "".join(f"<th>{c}</th>" for c in COLUMNS)
    for key, rows in report.groups():
        parts.append(f"<h2>{escape(manager_title(key))}</h2>")
        parts.append(f"<table><thead><tr>{header}</tr></thead><tbody>")
        for row in rows:
            css = ' class="done"' if row.called_back or row.do_not_call_reason is not None else ""
            parts.append(f"<tr{css}>{_cells(row, report)}</tr>")
        parts.append("</tbody></table>")
    if report.more:
        parts.append(f'<p class="more">{escape(more_text(report.more))}</p>')
    parts += section_html(report.inquiries, lambda value: value.astimezone(report.tz))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
