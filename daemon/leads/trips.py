"""``callbridge import trips FILE``: bookings from the booking system, keyed by order number.

A re-import updates (never duplicates) and leaves an unchanged booking alone; the
buyer is found by phone or e-mail (an unknown buyer becomes a contact); a booking
made while the buyer's lead was open wins that lead (and moves it to the funnel's
«Оплачено»; to «Поездка» once the trip has started). A booking without its own
booking date counts as booked when first seen, but no later than the trip's start:
an agency's history imported today is booked in the past and wins no lead of today.
The file is read by the shared spreadsheet reader (daemon/sheets: .xlsx, .xls, .ods, .csv, headers found by alias).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, tzinfo
from decimal import Decimal
from pathlib import Path

import asyncpg

from config.settings import Settings
from daemon.contacts.import_rows import MAX_NAME_CHARS, name_too_long
from daemon.domain import readable
from daemon.domain.identifiers import Identifier, parse_identifier
from daemon.leads.funnel import advance
from daemon.leads.tripvalues import map_status, parse_amount, parse_date
from daemon.sheets import Row, read_table
from daemon.sheets.reasons import in_russian
from daemon.store.queries import q
from daemon.store.repository import translated_errors
from daemon.store.statistics import analyze_written

ALIASES = {
    "order": ("Номер заявки", "№ заявки", "Заявка", "Номер брони", "Номер", "Order", "Order number"),
    "name": ("Клиент", "ФИО", "Покупатель", "Заказчик", "Турист", "Name", "Client"),
    "phones": ("Телефон", "Телефоны", "Моб. телефон", "Мобильный", "Phone"),
    "email": ("E-mail", "Email", "Эл. почта", "Почта", "Mail"),
    "starts": ("Дата начала", "Вылет", "Дата вылета", "Начало тура", "Заезд", "Start"),
    "ends": ("Дата окончания", "Возвращение", "Дата возвращения", "Окончание тура", "Выезд", "End"),
    "amount": ("Сумма", "Стоимость", "Цена", "Сумма заявки", "Amount", "Price"),
    "status": ("Статус", "Оплата", "Статус оплаты", "Статус заявки", "Status"),
    "manager": ("Менеджер", "Manager"),
    "booked": ("Дата заявки", "Дата создания", "Создана", "Дата бронирования", "Booked", "Created"),
}

# Booking systems number orders in a few characters; a longer "number" would not fit
# the unique index on trips.order_number (2,704 bytes) and fail the whole file.
MAX_ORDER_CHARS = 100


@dataclass(frozen=True)
class Booking:
    row: int
    order: str
    name: str | None
    identifiers: tuple[Identifier, ...]
    status: str
    status_raw: str
    amount: Decimal | None
    starts: date | None
    ends: date | None
    manager: str | None
    booked_at: datetime
    booked_given: bool  # the file gave the booking date (else booked_at is an upper bound)


@dataclass
class TripsReport:
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    contacts_created: int = 0
    leads_won: int = 0
    without_buyer: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    unknown_statuses: dict[str, int] = field(default_factory=dict)
    ignored_columns: list[str] = field(default_factory=list)
    analyze_s: float | None = None  # how long the ANALYZE of the written tables took

    def lines(self) -> list[str]:
        out = [(f"поездки: строк {self.rows}, новых {self.inserted}, обновлено {self.updated}, "
                f"без изменений {self.unchanged}, отклонено {len(self.rejected)}; "
                f"новых контактов-покупателей {self.contacts_created}; выиграно лидов {self.leads_won}")]
        if self.ignored_columns:
            out.append(f"пропущенные столбцы: {', '.join(self.ignored_columns)}")
        if self.without_buyer:
            bookings = readable.plural(self.without_buyer, "бронь", "брони", "броней")
            out.append(f"  без телефона и e-mail покупателя: {bookings}, сохранены без контакта")
        for status, count in sorted(self.unknown_statuses.items()):
            rows = readable.plural(count, "строка", "строки", "строк")
            out.append(f"  статуса {status!r} нет в trip_statuses ({rows}): сохранены как pending")
        out += [f"  строка {row}: {in_russian(reason)}" for row, reason in self.rejected]
        if self.analyze_s is not None:
            out.append(f"статистика обновлена (ANALYZE) за {self.analyze_s:.1f} с")
        return out


def parse_booking(number: int, values: Mapping[str, str], *, statuses: Mapping[str, str], region: str,
                  now: datetime, tz: tzinfo) -> Booking:
    """One row as a Booking; ValueError names what is wrong. An unknown status is pending."""
    order = values.get("order", "").strip()
    if not order:
        raise ValueError("no order number")
    if len(order) > MAX_ORDER_CHARS:
        raise ValueError(f"the order number has {len(order):,} characters (at most {MAX_ORDER_CHARS}): "
                         "not an order number")
    if len(values.get("name", "")) > MAX_NAME_CHARS:
        raise ValueError(name_too_long(values["name"]))
    found = []
    for line in values.get("phones", "").replace(";", "\n").replace(",", "\n").splitlines():
        ident = parse_identifier("phone", line, region=region)
        if isinstance(ident, Identifier):
            found.append(ident)
    email = parse_identifier("email", values.get("email", ""), region=region)
    if isinstance(email, Identifier):
        found.append(email)
    raw_status = values.get("status", "").strip()
    booked = parse_date(values.get("booked", ""))
    starts, ends = parse_date(values.get("starts", "")), parse_date(values.get("ends", ""))
    return Booking(
        row=number, order=order, name=values.get("name", "").strip() or None,
        identifiers=tuple(dict.fromkeys(found)),
        status=map_status(raw_status, statuses) or "pending", status_raw=raw_status,
        amount=parse_amount(values.get("amount", "")),
        starts=starts, ends=ends, manager=values.get("manager", "").strip() or None,
        booked_at=_booked_at(booked, starts or ends, now=now, tz=tz), booked_given=booked is not None,
    )


def _booked_at(booked: date | None, starts: date | None, *, now: datetime, tz: tzinfo) -> datetime:
    """The booking's own date (noon, office time); without one, now but no later than the
    day the trip starts (its first moment): a trip that began last year was booked by then."""
    if booked is not None:
        return datetime.combine(booked, time(12), tzinfo=tz)
    if starts is None:
        return now
    return min(now, datetime.combine(starts, time(0), tzinfo=tz))


def parse_rows(rows: Iterable[tuple[int, Mapping[str, str]]], settings: Settings, report: TripsReport,
               *, now: datetime) -> list[Booking]:
    """Every good row (the last of repeated order numbers wins); the rest go to ``report.rejected``."""
    bookings: dict[str, Booking] = {}
    for number, values in rows:
        report.rows += 1
        try:
            booking = parse_booking(number, values, statuses=settings.leads.trip_statuses,
                                    region=settings.default_region, now=now, tz=settings.tz)
        except ValueError as exc:
            report.rejected.append((number, str(exc)))
            continue
        if booking.status_raw and map_status(booking.status_raw, settings.leads.trip_statuses) is None:
            report.unknown_statuses[booking.status_raw] = report.unknown_statuses.get(booking.status_raw, 0) + 1
        bookings.pop(booking.order, None)
        bookings[booking.order] = booking
    return list(bookings.values())


async def store_bookings(pool: asyncpg.Pool, bookings: list[Booking], report: TripsReport) -> None:
    """Buyers found or made, trips upserted in one statement, leads won in another; one transaction."""
    if not bookings:
        return
    with translated_errors():
        async with pool.acquire() as conn, conn.transaction():
            buyers = await _buyers(conn, bookings, report)
            result = await conn.fetch(q("trips_upsert"), [b.order for b in bookings],
                                      [buyers.get(b.order) for b in bookings], [b.status for b in bookings],
                                      [b.status_raw for b in bookings], [b.amount for b in bookings],
                                      [b.starts for b in bookings], [b.ends for b in bookings],
                                      [b.manager for b in bookings], [b.booked_at for b in bookings],
                                      [b.booked_given for b in bookings])
            report.inserted += sum(1 for r in result if r["inserted"])
            report.updated += sum(1 for r in result if not r["inserted"])
            report.unchanged += len(bookings) - len(result)
            won = await conn.fetch(q("trips_win_leads"), [b.order for b in bookings])
            report.leads_won += len({r["lead_id"] for r in won})


async def _buyers(conn: asyncpg.Connection, bookings: list[Booking], report: TripsReport) -> dict[str, int]:
    """order -> contact id: the holder of the booking's first known identifier, or a new contact."""
    idents = sorted({i for b in bookings for i in b.identifiers}, key=lambda i: (i.kind, i.value))
    rows = await conn.fetch(q("trips_contacts_by_identifiers"), [i.kind for i in idents],
                            [i.value for i in idents])
    holder = {Identifier(r["kind"], r["value"]): r["contact_id"] for r in rows}
    unknown = [b for b in bookings if b.identifiers and not any(i in holder for i in b.identifiers)]
    # The calls' pipeline makes contacts under a per-phone lock: take the same, in one order.
    for phone in sorted({i.value for b in unknown for i in b.identifiers if i.kind == "phone"}):
        await conn.execute(q("lock_key"), f"phone:{phone}")
    for booking in unknown:
        known = [holder[i] for i in booking.identifiers if i in holder]
        if not known:
            known = [await conn.fetchval(q("contact_id_by_identifier"), i.kind, i.value)
                     for i in booking.identifiers]
            known = [k for k in known if k is not None]
        if known:
            contact_id = known[0]
        else:
            contact_id = await conn.fetchval(q("insert_contact"), booking.name, None, [])
            report.contacts_created += 1
        for ident in booking.identifiers:
            owner = await conn.fetchval(q("add_identifier"), ident.kind, ident.value, contact_id)
            holder.setdefault(ident, owner if owner is not None else contact_id)
    out = {}
    for booking in bookings:
        found = [holder[i] for i in booking.identifiers if i in holder]
        if found:
            out[booking.order] = found[0]
        else:
            report.without_buyer += 1
    return out


async def import_trips(pool: asyncpg.Pool, path: Path, settings: Settings, *, sheet: str | None = None,
                       now: datetime | None = None) -> TripsReport:
    """Read the export with the shared reader (daemon/sheets) and store its bookings; SheetError, ValueError."""
    now = now or datetime.now(UTC)
    report = TripsReport()
    with read_table(path, ALIASES, sheet=sheet) as table:
        fields = set(table.columns)
        report.ignored_columns = list(table.ignored)
        bookings = _bookings(path, fields, _usable(table.rows, report), settings, report, now=now)
    await store_bookings(pool, bookings, report)
    # A booking that won its lead moves it to «Оплачено», a trip already begun to «Поездка».
    await advance(pool, settings.funnel, timezone=settings.timezone, now=now)
    report.analyze_s = await analyze_written(pool, "analyze_trips_import")
    return report


def _usable(rows: Iterable[Row], report: TripsReport) -> Iterator[tuple[int, Mapping[str, str]]]:
    """The rows the reader could read; one it refused (a cell too long) is rejected with its reason."""
    for row in rows:
        if row.refused:
            report.rows += 1
            report.rejected.append((row.number, row.refused))
        else:
            yield row.number, row.values


def _bookings(path: Path, fields: set[str], rows: Iterable[tuple[int, Mapping[str, str]]], settings: Settings,
              report: TripsReport, *, now: datetime) -> list[Booking]:
    if "order" not in fields:
        raise ValueError(f"{path}: no order number column (one of {', '.join(ALIASES['order'])})")
    return parse_rows(rows, settings, report, now=now)

