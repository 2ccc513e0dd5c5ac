"""The missed-call report as text, CSV, JSON and HTML.

JSON and CSV are for programs: every field, times as ISO 8601 with the
office's offset. Text and HTML are for people: grouped by responsible manager,
readable numbers, times in the office's time zone.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime
from typing import Any

import phonenumbers

from daemon.report.inquiries import section_json, section_text
from daemon.report.limits import more_text
from daemon.report.query import ROW_FIELDS, MissedReport, MissedRow

FORMATS = ("text", "csv", "json", "html")
CONTENT_TYPES = {
    "text": "text/plain",
    "csv": "text/csv",
    "json": "application/json",
    "html": "text/html",
}
NO_MANAGER = "No responsible manager"
HIDDEN = "hidden number"


def local(value: datetime, report: MissedReport) -> datetime:
    return value.astimezone(report.tz)


def iso(value: datetime, report: MissedReport) -> str:
    return local(value, report).isoformat()


def readable_phone(phone: str | None) -> str:
    """``+7 903 111-22-33`` for an E.164 number; other callers verbatim; hidden ones named so."""
    if phone is None:
        return HIDDEN
    if phone.startswith("+"):
        try:
            return phonenumbers.format_number(
                phonenumbers.parse(phone), phonenumbers.PhoneNumberFormat.INTERNATIONAL
            )
        except phonenumbers.NumberParseException:
            return phone
    return phone


def manager_title(key: tuple[str | None, str | None] | None) -> str:
    if key is None:
        return NO_MANAGER
    extension, name = key
    return " ".join(part for part in (extension, name) if part)


def window_title(report: MissedReport) -> str:
    fmt = "%a %d.%m.%Y %H:%M"
    since, until = local(report.window.since, report), local(report.window.until, report)
    title = f"{since.strftime(fmt)} – {until.strftime(fmt)} ({report.tz.key})"
    if report.window.night_since is not None:
        night = local(report.window.night_since, report)
        title += f"; the night's calls (since {night.strftime(fmt)}) first, then those still waiting"
    return title


def when(row: MissedRow, report: MissedReport) -> str:
    """``09.10 12:53`` or ``09.10 12:53 … 10.10 08:02`` in office time."""
    first, last = local(row.first_missed_at, report), local(row.last_missed_at, report)
    if first == last:
        return first.strftime("%d.%m %H:%M")
    if first.date() == last.date():
        return f"{first.strftime('%d.%m %H:%M')} … {last.strftime('%H:%M')}"
    return f"{first.strftime('%d.%m %H:%M')} … {last.strftime('%d.%m %H:%M')}"


def summary_line(report: MissedReport) -> str:
    if not report.rows:
        return "Nobody to call back." if not report.include_called_back else "No missed calls."
    callers = len(report.rows)
    return (
        f"{callers} caller{'s' if callers != 1 else ''}, {report.missed_calls} missed "
        f"call{'s' if report.missed_calls != 1 else ''}, {report.to_call_back} to call back."
    )


def age_text(hours: int | None) -> str:
    """``waiting 5 h`` or ``waiting 2 d 3 h``; empty once called back."""
    if hours is None:
        return ""
    days, rest = divmod(hours, 24)
    return f"waiting {days} d {rest} h" if days else f"waiting {rest} h"


def row_json(row: MissedRow, report: MissedReport) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(row, name) for name in ROW_FIELDS[:-2]}
    values["first_missed_at"] = iso(row.first_missed_at, report)
    values["last_missed_at"] = iso(row.last_missed_at, report)
    values["waiting_since"] = iso(row.waiting_since, report) if row.waiting_since else None
    values["age_hours"] = report.age_hours(row)
    values["since_close"] = report.since_close(row)
    values["tags"] = list(row.tags)
    return values


def report_json(report: MissedReport) -> dict[str, Any]:
    return {
        "since": iso(report.window.since, report),
        "until": iso(report.window.until, report),
        "night_since": iso(report.window.night_since, report) if report.window.night_since else None,
        "timezone": report.tz.key,
        "include_called_back": report.include_called_back,
        "generated_at": iso(report.generated_at, report),
        "callers": len(report.rows),
        "missed_calls": report.missed_calls,
        "rows": [row_json(row, report) for row in report.shown],
        "more": report.more,  # callers counted above but not in rows (the limit)
        "unanswered_inquiries": section_json(report.inquiries, lambda value: iso(value, report)),
    }


def render_json(report: MissedReport) -> str:
    return json.dumps(report_json(report), ensure_ascii=False, indent=2) + "\n"


# A cell a spreadsheet would run as a formula (=HYPERLINK(...), +cmd|..., @SUM...): OWASP's
# "CSV injection". A leading tab or CR is read as blank and the next character decides.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Numbers (a phone in E.164, a signed count) start with + or - but are no formula.
PLAIN_NUMBER = re.compile(r"^[+-]?[0-9][0-9 ().-]*$")


def csv_safe(text: str) -> str:
    """``text``, or ``'text`` when a spreadsheet would take it for a formula.

    Names, lines and ad sources come from callers and spreadsheets we do not
    control, and the report is e-mailed to be opened in Excel or LibreOffice.
    """
    if text.startswith(FORMULA_START) and not PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def _csv_value(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return csv_safe(", ".join(value))
    if isinstance(value, str):
        return csv_safe(value)
    return value


def render_csv(report: MissedReport) -> str:
    out = io.StringIO()
    # RFC 4180's CRLF: the writer then quotes any cell holding a CR or LF (with "\n"
    # alone, a CR in a caller's name went out unquoted and broke the row).
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(ROW_FIELDS)
    for row in report.shown:
        values = row_json(row, report)
        writer.writerow([_csv_value(values[name]) for name in ROW_FIELDS])
    if report.more:
        writer.writerow([more_text(report.more)] + [""] * (len(ROW_FIELDS) - 1))
    return out.getvalue()


def _text_row(row: MissedRow, report: MissedReport) -> str:
    who = readable_phone(row.phone).ljust(18)
    name = (row.contact_name or "—")[:28].ljust(28)
    calls = f"{row.missed_calls} missed".ljust(9)
    line = row.line_number or "—"
    source = f" ({row.ad_source})" if row.ad_source else ""
    done = "  [called back]" if row.called_back else ""
    if row.do_not_call_reason is not None:
        done += f"  [do not call: {row.do_not_call_reason}]"
    age = age_text(report.age_hours(row))
    night = "  [earlier]" if report.since_close(row) is False else ""
    tags = f"  [{', '.join(row.tags)}]" if row.tags else ""
    return (f"  {who} {name} {calls} {when(row, report).ljust(26)} line {line}{source}{done}"
            f"{'  ' + age if age else ''}{night}{tags}")


def render_text(report: MissedReport) -> str:
    lines = [f"Missed calls, {window_title(report)}", summary_line(report)]
    for key, rows in report.groups():
        lines += ["", f"{manager_title(key)}: {len(rows)} caller{'s' if len(rows) != 1 else ''}"]
        lines += [_text_row(row, report) for row in rows]
    if report.more:
        lines += ["", more_text(report.more)]
    lines += section_text(report.inquiries, lambda value: local(value, report))
    return "\n".join(lines) + "\n"
