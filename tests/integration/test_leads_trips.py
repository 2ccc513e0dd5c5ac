"""Trips from the booking system: values as exports write them, bookings keyed by order number,
buyers found or made, and a booking made while a lead is open wins it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from aiohttp.test_utils import TestClient

from config.settings import DEFAULT_TRIP_STATUSES, Settings
from daemon.leads.trips import TripsReport, parse_rows, store_bookings
from daemon.leads.tripvalues import map_status, parse_amount, parse_date
from daemon.store.repository import Repository
from tests.leadkit import ANSWERED, post_call

NOW = datetime(2025, 4, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "value"), [
    ("125 000,50", Decimal("125000.50")), ("125000.5", Decimal("125000.50")), ("125000", Decimal("125000.00")),
    ("125\u00a0000 руб.", Decimal("125000.00")), ("1,250,000.00", Decimal("1250000.00")),
    ("1.250.000,75", Decimal("1250000.75")), ("", None), ("80 000,5 ₽", Decimal("80000.50")),
])
def test_amounts_as_exports_write_them(text: str, value: Decimal | None) -> None:
    assert parse_amount(text) == value


@pytest.mark.parametrize(("text", "value"), [
    ("15.05.2025", date(2025, 5, 15)), ("5.5.25", date(2025, 5, 5)), ("2025-05-15", date(2025, 5, 15)),
    ("2025-05-15T00:00:00", date(2025, 5, 15)), ("2025-05-15 10:30:00", date(2025, 5, 15)), ("", None),
])
def test_dates_as_exports_write_them(text: str, value: date | None) -> None:
    assert parse_date(text) == value


def test_bad_values_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="not a number"):
        parse_amount("сто тысяч")
    with pytest.raises(ValueError, match="does not exist"):
        parse_date("31.02.2025")
    with pytest.raises(ValueError, match="not a date"):
        parse_date("весной")


def test_statuses_map_through_the_table() -> None:
    assert map_status("  Оплачено   полностью ", DEFAULT_TRIP_STATUSES) == "paid"
    assert map_status("Аннулирована", DEFAULT_TRIP_STATUSES) == "cancelled"
    assert map_status("Ожидает оплаты", DEFAULT_TRIP_STATUSES) == "pending"
    assert map_status("Что-то новое", DEFAULT_TRIP_STATUSES) is None


def rows(*items: dict[str, str]) -> list[tuple[int, dict[str, str]]]:
    return [(n + 2, item) for n, item in enumerate(items)]


async def store(settings: Settings, repo: Repository, items: list, *, now: datetime = NOW) -> TripsReport:
    report = TripsReport()
    await store_bookings(repo.pool, parse_rows(items, settings, report, now=now), report)
    return report


async def test_bookings_are_keyed_by_order_and_buyers_found_or_made(settings: Settings, office: Repository) -> None:
    first = rows(
        {"order": "A-1", "name": "Кузнецова Анна", "phones": "8 (916) 123-45-67", "amount": "125 000,50",
         "starts": "15.05.2025", "ends": "25.05.2025", "status": "Оплачена", "manager": "105"},
        {"order": "A-2", "name": "Новый Турист", "phones": "+7 926 555-00-11", "email": "New@Example.ru",
         "amount": "80000", "starts": "2025-06-01", "ends": "2025-06-10", "status": "Бронь на рассмотрении"},
        {"order": "A-3", "name": "Новый Турист", "email": "new@example.ru", "amount": "1000",
         "status": "Аннулирована"},
        {"order": "", "name": "Без номера"},
        {"order": "A-4", "amount": "много"},
    )
    report = await store(settings, office, first)
    assert (report.rows, report.inserted, report.updated, report.contacts_created) == (5, 3, 0, 1)
    assert report.rejected == [(5, "no order number"), (6, "amount 'много' is not a number such as 125 000,50")]
    assert report.unknown_statuses == {"Бронь на рассмотрении": 1}
    trips = {r["order_number"]: r for r in await office.pool.fetch("SELECT * FROM trips")}
    anna = await office.pool.fetchval("SELECT contact_id FROM contact_identifiers WHERE value = '+79161234567'")
    assert trips["A-1"]["contact_id"] == anna
    assert (trips["A-1"]["amount"], trips["A-1"]["status"]) == (Decimal("125000.50"), "paid")
    assert (trips["A-1"]["starts_on"], trips["A-1"]["ends_on"]) == (date(2025, 5, 15), date(2025, 5, 25))
    assert trips["A-2"]["status"] == "pending" and trips["A-3"]["status"] == "cancelled"
    assert trips["A-2"]["contact_id"] == trips["A-3"]["contact_id"] != anna
    new = await office.pool.fetchrow("SELECT * FROM contacts WHERE id = $1", trips["A-2"]["contact_id"])
    assert new["name"] == "Новый Турист"

    again = await store(settings, office, rows(
        {"order": "A-2", "phones": "+7 926 555-00-11", "amount": "82 000", "status": "Оплачено полностью"}),
        now=NOW + timedelta(days=3))
    assert (again.inserted, again.updated, again.contacts_created) == (0, 1, 0)
    updated = await office.pool.fetchrow("SELECT * FROM trips WHERE order_number = 'A-2'")
    assert (updated["amount"], updated["status"]) == (Decimal("82000.00"), "paid")
    assert updated["booked_at"] == NOW  # first seen, not re-seen
    assert await office.pool.fetchval("SELECT count(*) FROM trips") == 3


async def test_a_booking_made_while_the_lead_is_open_wins_it(
        settings: Settings, client: TestClient, office: Repository) -> None:
    opened = datetime(2025, 3, 20, 10, 0, tzinfo=UTC)
    await post_call(client, ANSWERED, name="t1", number="79261112233", at=opened)
    await post_call(client, ANSWERED, name="t2", number="79261112244", at=opened)
    report = await store(settings, office, rows(
        {"order": "B-1", "phones": "+79261112233", "amount": "99 000", "status": "Оплачена",
         "booked": "25.03.2025"},
        {"order": "B-2", "phones": "+79261112244", "amount": "10 000", "status": "Аннулирована",
         "booked": "25.03.2025"},
        {"order": "B-3", "phones": "+79261112244", "amount": "10 000", "status": "Оплачена",
         "booked": "19.03.2025"},  # before that lead opened
    ))
    assert report.leads_won == 1
    leads = {r["phone"]: r for r in await office.pool.fetch(
        "SELECT i.value AS phone, l.* FROM leads l JOIN contact_identifiers i ON i.contact_id = l.contact_id")}
    assert leads["+79261112233"]["status"] == "won"
    assert leads["+79261112233"]["closed_at"].date() == date(2025, 3, 25)
    assert leads["+79261112244"]["status"] == "open"
    trip = await office.pool.fetchrow("SELECT * FROM trips WHERE order_number = 'B-1'")
    assert trip["lead_id"] == leads["+79261112233"]["id"]
    again = await store(settings, office, rows(
        {"order": "B-1", "phones": "+79261112233", "amount": "99 000", "status": "Оплачена",
         "booked": "25.03.2025"}))
    assert (again.leads_won, again.updated, again.unchanged) == (0, 0, 1)


async def leads_by_phone(repo: Repository) -> dict[str, tuple[object, ...]]:
    rows = await repo.pool.fetch(
        "SELECT i.value AS phone, l.id, l.status, l.closed_at, l.reason FROM leads l "
        "JOIN contact_identifiers i ON i.contact_id = l.contact_id AND i.kind = 'phone'")
    return {r["phone"]: tuple(r)[1:] for r in rows}


async def test_a_historic_booking_without_a_booking_date_wins_no_lead_of_today(
        settings: Settings, client: TestClient, office: Repository) -> None:
    """An agency imports its history: a trip that started last summer, with no booking date, was
    booked by then at the latest, so it does not win the lead its buyer opened this week; a trip
    starting next month, also undated, was booked no later than today and wins its buyer's lead."""
    opened = NOW - timedelta(days=2)
    await post_call(client, ANSWERED, name="h1", number="79261112233", at=opened)
    await post_call(client, ANSWERED, name="h2", number="79261112244", at=opened)

    report = await store(settings, office, rows(
        {"order": "H-1", "phones": "+79261112233", "amount": "99 000", "status": "Оплачена",
         "starts": "01.08.2024", "ends": "14.08.2024"},
        {"order": "H-2", "phones": "+79261112244", "amount": "50 000", "status": "Оплачена",
         "starts": "01.05.2025", "ends": "10.05.2025"},
    ))

    assert report.leads_won == 1
    leads = await leads_by_phone(office)
    assert leads["+79261112233"][1] == "open"
    assert leads["+79261112244"][1:3] == ("won", NOW)
    historic = await office.pool.fetchrow("SELECT booked_at, lead_id FROM trips WHERE order_number = 'H-1'")
    assert historic["lead_id"] is None
    assert historic["booked_at"] == datetime(2024, 8, 1, tzinfo=settings.tz)


async def test_reimporting_the_same_file_moves_no_lead_and_reports_unchanged_rows(
        settings: Settings, client: TestClient, office: Repository) -> None:
    """The same export a second time, days later: every row is ``unchanged`` (none ``updated``),
    no trip is written again and no lead changes, although new leads have opened since."""
    await post_call(client, ANSWERED, name="r1", number="79261112233", at=NOW - timedelta(days=1))
    items = rows(
        {"order": "R-1", "phones": "+79261112233", "amount": "99 000", "status": "Оплачена",
         "starts": "01.08.2024"},
        {"order": "R-2", "phones": "+79261112255", "amount": "10 000", "status": "Оплачена"},
        {"order": "R-3", "phones": "+79261112233", "amount": "20 000", "status": "Оплачена",
         "starts": "01.06.2025"},
    )
    first = await store(settings, office, items)
    assert (first.inserted, first.updated, first.unchanged, first.leads_won) == (3, 0, 0, 1)
    await post_call(client, ANSWERED, name="r2", number="79261112255", at=NOW + timedelta(days=2))
    leads = await leads_by_phone(office)
    trips = [tuple(r) for r in await office.pool.fetch("SELECT * FROM trips ORDER BY id")]

    again = await store(settings, office, items, now=NOW + timedelta(days=3))

    assert (again.inserted, again.updated, again.unchanged, again.leads_won) == (0, 0, 3, 0)
    assert again.lines()[0].startswith("поездки: строк 3, новых 0, обновлено 0, без изменений 3, отклонено 0")
    assert await leads_by_phone(office) == leads
    assert [tuple(r) for r in await office.pool.fetch("SELECT * FROM trips ORDER BY id")] == trips
