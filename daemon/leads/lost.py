"""Lost clients: bought before, silent since; the list the reactivation calls start from.

A contact is listed while it has a paid trip, its last paid trip ended more than
``lost_client_trip_months`` ago, it has no open lead, no communication in the
last ``lost_client_silence_months``, no do-not-call mark, and is neither merged
nor removed. The calls that follow are ordinary communications, so a contact
called back leaves the list by itself.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from typing import Any

import asyncpg

from config.settings import Settings
from daemon.domain import readable
from daemon.domain.phones import format_for_people
from daemon.http.boundary import plain
from daemon.report.render import csv_safe
from daemon.store.queries import q
from daemon.store.repository import translated_errors

LOST_FORMATS = ("text", "csv", "xlsx", "json")
FIELDS = ("contact_id", "name", "phones", "emails", "responsible_extension", "paid_trips", "revenue",
          "last_trip_end", "last_contact_at")
HEADINGS = ("ID", "Клиент", "Телефоны", "E-mail", "Ответственный", "Оплаченных поездок", "Выручка",
            "Последняя поездка закончилась", "Последний контакт")


class AssignError(ValueError):
    """``--assign`` names an extension no active manager has."""


@dataclass(frozen=True)
class LostPage:
    """``rows`` from the ``offset``-th of ``total`` lost clients, the best customers first."""

    total: int
    offset: int
    rows: list[dict[str, Any]]


async def lost_clients(pool: asyncpg.Pool, settings: Settings, *, now: datetime | None = None
                       ) -> list[dict[str, Any]]:
    """Every lost client (the CLI's spreadsheet)."""
    return (await lost_clients_page(pool, settings, limit=None, offset=0, now=now)).rows


async def lost_clients_page(pool: asyncpg.Pool, settings: Settings, *, limit: int | None, offset: int,
                            now: datetime | None = None) -> LostPage:
    """``limit`` lost clients (None: all) from the ``offset``-th, and how many there are."""
    now = now or datetime.now(UTC)
    with translated_errors():
        rows = await pool.fetch(q("lost_clients"), now, settings.leads.lost_client_trip_months,
                                settings.leads.lost_client_silence_months, limit, offset)
    total = rows[0]["total"] if rows else 0
    return LostPage(total=total, offset=offset,
                    rows=[_row(dict(r)) for r in rows if r["contact_id"] is not None])


def _row(row: dict[str, Any]) -> dict[str, Any]:
    del row["total"]
    row["phones"], row["emails"], row["tags"] = list(row["phones"]), list(row["emails"]), list(row["tags"])
    return row


async def assign(pool: asyncpg.Pool, rows: list[dict[str, Any]], extensions: Sequence[str]) -> None:
    """Spread the rows over the managers in turn (the best customer to the first); updates ``rows``."""
    wanted = list(dict.fromkeys(e.strip() for e in extensions if e.strip()))
    with translated_errors():
        known = {r["extension"]: r["active"] for r in await pool.fetch(q("managers_by_extension"), wanted)}
        bad = [e for e in wanted if not known.get(e)]
        if bad:
            raise AssignError(f"no active manager with extension {', '.join(bad)}")
        chosen = [wanted[n % len(wanted)] for n in range(len(rows))]
        await pool.execute(q("lost_clients_assign"), [r["contact_id"] for r in rows], chosen)
    for row, extension in zip(rows, chosen, strict=True):
        row["responsible_extension"] = extension


def row_json(row: dict[str, Any]) -> dict[str, Any]:
    return {name: plain(row[name]) for name in (*FIELDS, "tags")}


def page_json(page: LostPage, *, limit: int) -> dict[str, Any]:
    """The API's page: ``items`` from ``offset``, of ``total``."""
    return {"total": page.total, "offset": page.offset, "limit": limit,
            "items": [row_json(r) for r in page.rows]}


def render_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps({"rows": [row_json(r) for r in rows]}, ensure_ascii=False, indent=2) + "\n"


def _cells(row: dict[str, Any]) -> list[Any]:
    values = row_json(row)
    return [", ".join(v) if isinstance(v, list) else ("" if v is None else v)
            for v in (values[name] for name in FIELDS)]


def render_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADINGS)  # the spreadsheet's, as in the xlsx
    # A name typed as "=HYPERLINK(…)" must stay text in the callers' spreadsheet program.
    writer.writerows([csv_safe(v) if isinstance(v, str) else v for v in _cells(r)] for r in rows)
    return out.getvalue()


def render_text(rows: list[dict[str, Any]], tz: tzinfo | None = None) -> str:
    """For a person: Russian, phones as on the card, days as 06.12.2026, money in roubles."""
    revenue = sum((Decimal(r["revenue"]) for r in rows), Decimal(0))
    lines = [f"Потерянные клиенты: {len(rows)}, выручка {readable.money(revenue)}"]
    for r in rows:
        last = readable.day(r["last_contact_at"], tz) if r["last_contact_at"] else "никогда"
        phones = ", ".join(format_for_people(p) for p in r["phones"]) or "—"
        trips = readable.plural(r["paid_trips"], "поездка", "поездки", "поездок")
        lines.append(f"  {r['name'] or '—'} | {phones} | {trips}, {readable.money(r['revenue'])} |"
                     f" последняя поездка закончилась {readable.day(r['last_trip_end'])} |"
                     f" последний контакт {last} | менеджер {r['responsible_extension'] or '—'}")
    return "\n".join(lines) + "\n"


def render_xlsx(rows: list[dict[str, Any]]) -> bytes:
    """The callers' spreadsheet: one sheet, a header row, money and dates as real cells."""
    import xlsxwriter  # imported here: only this report needs it

    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True, "remove_timezone": True})
    sheet = book.add_worksheet("Потерянные клиенты")
    bold = book.add_format({"bold": True})
    money = book.add_format({"num_format": "# ##0.00"})
    day = book.add_format({"num_format": "dd.mm.yyyy"})
    sheet.write_row(0, 0, HEADINGS, bold)
    for n, row in enumerate(rows, start=1):
        cells = _cells(row)
        for col, value in enumerate(cells):
            name = FIELDS[col]
            if name == "revenue":
                sheet.write_number(n, col, float(row["revenue"]), money)
            elif name == "last_trip_end":
                sheet.write_datetime(n, col, datetime.combine(row["last_trip_end"], datetime.min.time()), day)
            elif name == "last_contact_at" and row["last_contact_at"] is not None:
                sheet.write_datetime(n, col, row["last_contact_at"].astimezone(UTC), day)
            elif isinstance(value, str):
                sheet.write_string(n, col, value)  # never a formula, whatever the text
            else:
                sheet.write(n, col, value)
    sheet.set_column(0, 0, 8)
    sheet.set_column(1, 3, 28)
    sheet.set_column(4, 8, 16)
    sheet.freeze_panes(1, 0)
    book.close()
    return out.getvalue()
