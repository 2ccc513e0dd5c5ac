"""The missed-call report as text, CSV, JSON and HTML.

JSON is for programs: every field, English keys, times as ISO 8601 with the
office's offset. Text, HTML and the CSV (opened in a spreadsheet by the head of
sales) are for people, in Russian: grouped by responsible manager, readable
phones, office time to the minute (daemon/domain/readable.py).
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime
from typing import Any

import phonenumbers

from daemon.domain import readable
from daemon.domain.phones import line_key
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
NO_MANAGER = "Без ответственного"
HIDDEN = "номер скрыт"
# The CSV's header row: what a person reads in the spreadsheet, one per ROW_FIELDS entry.
CSV_HEADINGS = {
    "phone": "Телефон", "contact_id": "ID контакта", "contact_name": "Абонент",
    "responsible_extension": "Доб. ответственного", "responsible_name": "Ответственный",
    "missed_calls": "Пропущено звонков", "first_missed_at": "Первый пропущенный",
    "last_missed_at": "Последний пропущенный", "line_number": "Линия", "ad_source": "Реклама",
    "called_back": "Перезвонили", "waiting_since": "Ждёт с", "do_not_call_reason": "Не звонить",
    "tags": "Теги", "age_hours": "Ждёт, ч", "since_close": "За ночь",
}


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


def line_for_people(line_number: str | None) -> str:
    """The dialled line as on the card (``+7 495 123-45-67``); a line that is no phone as the PBX named it."""
    if not line_number:
        return "—"
    return readable_phone(line_key(line_number) or line_number)


def manager_title(key: tuple[str | None, str | None] | None) -> str:
    """``Петров Алексей (доб. 106)``, ``доб. 106``, a name alone (an import's), or «Без ответственного»."""
    if key is None:
        return NO_MANAGER
    extension, name = key
    if not extension:
        return name or NO_MANAGER
    return f"{name} (доб. {extension})" if name else f"доб. {extension}"


def window_title(report: MissedReport) -> str:
    """``ср 08.10.2025 19:00 – пт 10.10.2025 08:30 (время офиса, Europe/Moscow)``."""
    since = readable.named_moment(report.window.since, report.tz)
    until = readable.named_moment(report.window.until, report.tz)
    title = f"{since} – {until} (время офиса, {report.tz.key})"
    if report.window.night_since is not None:
        night = readable.named_moment(report.window.night_since, report.tz)
        title += f"; сначала звонки за ночь (с {night}), затем те, кто ещё ждёт"
    return title


def when(row: MissedRow, report: MissedReport) -> str:
    """``09.10 12:53`` or ``09.10 12:53 … 10.10 08:02`` in office time."""
    first, last = local(row.first_missed_at, report), local(row.last_missed_at, report)
    if first == last:
        return readable.moment(first, year=False)
    if first.date() == last.date():
        return f"{readable.moment(first, year=False)} … {readable.clock(last)}"
    return f"{readable.moment(first, year=False)} … {readable.moment(last, year=False)}"


def summary_line(report: MissedReport) -> str:
    if not report.rows:
        return "Перезванивать некому." if not report.include_called_back else "Пропущенных звонков нет."
    callers = readable.plural(len(report.rows), "абонент", "абонента", "абонентов")
    calls = readable.plural(report.missed_calls, "пропущенный звонок", "пропущенных звонка",
                            "пропущенных звонков")
    return f"{callers}, {calls}, перезвонить: {report.to_call_back}."


def age_text(report: MissedReport, row: MissedRow) -> str:
    """``ждёт 3 мин``, ``ждёт 17 ч``, ``ждёт 2 д 3 ч``; empty once called back."""
    return readable.waiting(report.age_seconds(row))


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
        return readable.yes_no(value)
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
    writer.writerow([CSV_HEADINGS[name] for name in ROW_FIELDS])
    for row in report.shown:
        values = row_json(row, report)
        for name in ("first_missed_at", "last_missed_at", "waiting_since"):  # office time, to the minute
            moment = getattr(row, name)
            values[name] = readable.moment(moment, report.tz) if moment is not None else None
        writer.writerow([_csv_value(values[name]) for name in ROW_FIELDS])
    if report.more:
        writer.writerow([more_text(report.more)] + [""] * (len(ROW_FIELDS) - 1))
    return out.getvalue()


def _text_row(row: MissedRow, report: MissedReport) -> str:
    who = readable_phone(row.phone).ljust(18)
    name = (row.contact_name or "—")[:28].ljust(28)
    calls = f"пропущ. {row.missed_calls}".ljust(10)
    line = line_for_people(row.line_number)
    source = f" ({row.ad_source})" if row.ad_source else ""
    done = "  [перезвонили]" if row.called_back else ""
    if row.do_not_call_reason is not None:
        done += f"  [не звонить: {row.do_not_call_reason}]"
    age = age_text(report, row)
    night = "  [раньше]" if report.since_close(row) is False else ""
    tags = f"  [{', '.join(row.tags)}]" if row.tags else ""
    return (f"  {who} {name} {calls} {when(row, report).ljust(26)} линия {line}{source}{done}"
            f"{'  ' + age if age else ''}{night}{tags}")


def render_text(report: MissedReport) -> str:
    lines = [f"Пропущенные звонки, {window_title(report)}", summary_line(report)]
    for key, rows in report.groups():
        lines += ["", f"{manager_title(key)}: {readable.plural(len(rows), 'абонент', 'абонента', 'абонентов')}"]
        lines += [_text_row(row, report) for row in rows]
    if report.more:
        lines += ["", more_text(report.more)]
    lines += section_text(report.inquiries, lambda value: local(value, report))
    return "\n".join(lines) + "\n"
