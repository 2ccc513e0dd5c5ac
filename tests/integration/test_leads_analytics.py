"""Channel analytics: every figure of a small week of calls, counted by hand.

The week (tests/leadkit.py WEEK_CALLS, Moscow time, office 09:00-19:00 Mon-Fri):
  #0 Fri 28.02 10:00 P5 avito answered: opens L0 (before the window)
  #1 Mon 10:00 P1 yandex answered (first answer 11 s): new contact, opens L1
  #2 Mon 18:50 P2 avito missed; called back Tue 09:05:14: new, opens L2
     (office seconds: 600 on Monday + 314 on Tuesday = 914)
  #3 Tue 11:00 P1 yandex missed, ends 11:00:32; called back 11:05:14 (within 15 min): joins L1
  #4 Wed 12:00 Анна, line without ad source, missed, never reached: opens L3
  #5 Wed 13:00 P3 yandex missed; reached by #6 at 14:00:11 (same day, 3611 s): new, opens L4
  #6 Wed 14:00 P3 yandex answered (11 s): joins L4
  #7 Thu 15:00 P4 avito answered (11 s): new, opens L5
  #8 Fri 10:00 P5 avito missed, never reached: joins L0
Then L1 won (trip 150 000,00 paid), L2 lost «Конкуренты», L3 lost «Переезд», L4 open,
L5 won (trip 80 000,50 paid; a cancelled 50 000 trip does not count).
"""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from aiohttp.test_utils import TestClient

from config.settings import Settings
from daemon.leads.analytics import aggregate, analytics
from daemon.leads.officetime import office_seconds, percentile
from daemon.routing.policy import OfficeHours
from daemon.store.queries import q
from daemon.store.repository import Repository
from tests.conftest import auth, run_cli
from tests.leadkit import OFFICE_HOURS, WEEK_SINCE, WEEK_UNTIL, msk, post_week

YANDEX = {
    "key": "Яндекс.Директ", "inquiries": 4, "contacts": 2, "new_contacts": 2, "leads_opened": 2,
    "leads_joined": 0, "calls": 4, "missed": 2, "missed_share": 0.5, "called_back_15m": 1,
    "called_back_same_day": 2, "first_answer_p50_s": 162.5, "first_answer_p90_s": 2621.9,
    "answered_in_sla_share": 0.75,
    "won": 1, "lost": 0, "lost_reasons": {}, "open": 1, "revenue": 150000.0,
}
AVITO = {
    "key": "Avito", "inquiries": 3, "contacts": 3, "new_contacts": 2, "leads_opened": 2,
    "leads_joined": 1, "calls": 3, "missed": 2, "missed_share": 0.6667, "called_back_15m": 0,
    "called_back_same_day": 0, "first_answer_p50_s": 462.5, "first_answer_p90_s": 823.7,
    "answered_in_sla_share": 0.3333,
    "won": 1, "lost": 1, "lost_reasons": {"Конкуренты": 1}, "open": 0, "revenue": 80000.5,
}
NO_SOURCE = {
    "key": None, "inquiries": 1, "contacts": 1, "new_contacts": 0, "leads_opened": 1,
    "leads_joined": 0, "calls": 1, "missed": 1, "missed_share": 1.0, "called_back_15m": 0,
    "called_back_same_day": 0, "first_answer_p50_s": None, "first_answer_p90_s": None,
    "answered_in_sla_share": 0.0,
    "won": 0, "lost": 1, "lost_reasons": {"Переезд": 1}, "open": 0, "revenue": 0.0,
}
TOTALS = {
    "inquiries": 8, "contacts": 6, "new_contacts": 4, "leads_opened": 5, "leads_joined": 1,
    "calls": 8, "missed": 5, "missed_share": 0.625, "called_back_15m": 1, "called_back_same_day": 2,
    "first_answer_p50_s": 162.5, "first_answer_p90_s": 2262.5,
    "answered_in_sla_share": 0.5,
    "won": 2, "lost": 2, "lost_reasons": {"Конкуренты": 1, "Переезд": 1}, "open": 1, "revenue": 230000.5,
}


def office_hours(settings: Settings) -> OfficeHours:
    return OfficeHours.from_settings(settings.model_copy(update={"office_hours": OFFICE_HOURS}))


async def close_week_leads(client: TestClient, office_repo: Repository, entries: dict[str, str]) -> None:
    """The outcomes of the week's leads (bookings for the won ones)."""
    pool = office_repo.pool

    async def lead(name: str) -> int:
        return await pool.fetchval("SELECT lead_id FROM communications WHERE entry_id = $1", entries[name])

    for name, body in (("w1", {"outcome": "won"}), ("w2", {"outcome": "lost", "reason": "Конкуренты"}),
                       ("w4", {"outcome": "lost", "reason": "Переезд"}), ("w7", {"outcome": "won"})):
        resp = await client.put(f"/api/leads/{await lead(name)}/close", json=body, headers=auth())
        assert resp.status == 200, await resp.text()
    for order, name, amount, status in (("T1", "w1", "150000.00", "paid"), ("T5", "w7", "80000.50", "paid"),
                                        ("T5x", "w7", "50000", "cancelled")):
        await pool.execute(
            "INSERT INTO trips (order_number, contact_id, lead_id, status, amount, starts_on, booked_at)"
            " SELECT $1, contact_id, lead_id, $4, $3::numeric, '2025-05-01', now()"
            " FROM communications WHERE entry_id = $2", order, entries[name], amount, status)


@pytest.fixture
async def week(client: TestClient, office: Repository) -> dict[str, str]:
    entries = await post_week(client)
    await close_week_leads(client, office, entries)
    return entries


def test_office_seconds_count_only_open_hours(settings: Settings) -> None:
    hours = office_hours(settings)
    assert office_seconds(hours, msk(3, 18, 50), msk(4, 9, 5)) == 600 + 300
    assert office_seconds(hours, msk(7, 18, 0), msk(10, 9, 1)) == 3600 + 60  # over a weekend
    assert office_seconds(OfficeHours.from_settings(settings), msk(3, 18), msk(4, 9)) == 15 * 3600
    assert percentile([11, 11, 314, 3611], 0.5) == 162.5
    assert percentile([], 0.5) is None


async def test_every_figure_by_ad_source_equals_the_hand_count(
        settings: Settings, office: Repository, week: dict[str, str]) -> None:
    result = await analytics(office.pool, since=WEEK_SINCE, until=WEEK_UNTIL, by="ad_source",
                             hours=office_hours(settings))
    assert result.rows == [YANDEX, AVITO, NO_SOURCE]
    assert result.totals == TOTALS


async def test_by_day_manager_channel_and_line(settings: Settings, office: Repository,
                                               week: dict[str, str]) -> None:
    hours = office_hours(settings)

    async def rows(by: str) -> list[dict]:
        return (await analytics(office.pool, since=WEEK_SINCE, until=WEEK_UNTIL, by=by, hours=hours)).rows

    days = await rows("day")
    assert [(r["key"], r["inquiries"], r["missed_share"]) for r in days] == [
        ("2025-03-03", 2, 0.5), ("2025-03-04", 1, 1.0), ("2025-03-05", 3, 0.6667),
        ("2025-03-06", 1, 0.0), ("2025-03-07", 1, 1.0)]
    assert [(r["key"], r["inquiries"], r["calls"], r["missed"]) for r in await rows("manager")] == [
        (None, 5, 5, 5), ("105", 3, 3, 0)]
    channel = await rows("channel")
    assert channel == [{"key": "call", **TOTALS}]
    assert [(r["key"], r["inquiries"]) for r in await rows("line")] == [
        ("74951234567", 4), ("74957654321", 3), ("74950000000", 1)]


async def test_api_answers_json_csv_and_html_and_refuses_bad_input(
        client: TestClient, week: dict[str, str]) -> None:
    """Without office hours configured, waits count every second (p50 of #1,#6,#7,#3 ... as is)."""
    params = {"since": WEEK_SINCE.isoformat(), "until": WEEK_UNTIL.isoformat(), "by": "ad_source"}
    resp = await client.get("/api/analytics", params=params, headers=auth())
    assert resp.status == 200
    doc = await resp.json()
    assert (doc["by"], doc["since"]) == ("ad_source", WEEK_SINCE.isoformat())
    assert [r["key"] for r in doc["rows"]] == ["Яндекс.Директ", "Avito", None]
    plain = {k: v for k, v in TOTALS.items() if not k.startswith("first_answer")}
    assert {k: doc["totals"][k] for k in plain} == plain
    # Avito's #2 waited 14 h 15 min 14 s of clock time when no office hours are set.
    assert doc["rows"][1]["first_answer_p90_s"] == round(11 + (51314 - 11) * 0.9, 1)
    text = await (await client.get("/api/analytics", params={**params, "format": "csv"}, headers=auth())).text()
    table = list(csv.DictReader(io.StringIO(text)))
    # For the spreadsheet: Russian headings, the numbers as numbers.
    assert [r["Реклама"] for r in table] == ["Яндекс.Директ", "Avito", "", "Итого"]
    assert table[3]["Выручка (₽)"] == "230000.5"
    assert json.loads(table[3]["Причины отказов"]) == TOTALS["lost_reasons"]
    html = await (await client.get("/api/analytics", params={**params, "format": "html"}, headers=auth())).text()
    assert html.count("<svg") == 3 and "Яндекс.Директ" in html
    charts = await (await client.get("/api/analytics/charts", params=params, headers=auth())).json()
    assert charts["ad_source"].count('class="bar"') == 3
    assert charts["daily"].count('class="day"') == 5
    # Days under the bars as 03.03 … 07.03, and every chart with a value axis.
    assert re.findall(r'class="date"[^>]*>([^<]+)<', charts["daily"]) == ["03.03", "04.03", "05.03", "06.03", "07.03"]
    assert all('class="tick"' in svg for svg in charts.values())
    # Leads → sales → revenue per ad source, the revenue on its own ₽ axis.
    assert charts["sales"].count('class="source"') == 3
    assert "Яндекс.Директ: лидов 2, продаж " in charts["sales"] and " ₽</text>" in charts["sales"]
    for bad in ({"by": "colour"}, {"format": "pdf"}, {"since": "yesterday"},
                {"since": WEEK_UNTIL.isoformat(), "until": WEEK_SINCE.isoformat()}):
        assert (await client.get("/api/analytics", params={**params, **bad}, headers=auth())).status == 400


async def test_report_analytics_command_prints_every_format(settings: Settings, week: dict[str, str]) -> None:
    window = ("--since", WEEK_SINCE.isoformat(), "--until", WEEK_UNTIL.isoformat())
    code, out, err = await run_cli(settings, "report", "analytics", *window, "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["totals"]["inquiries"] == 8 and doc["rows"][0]["key"] == "Яндекс.Директ"
    code, out, err = await run_cli(settings, "report", "analytics", *window, "--by", "day")
    assert code == 0, err
    assert out.startswith("Аналитика по дням, пн 03.03.2025 – ")
    assert "ср 05.03.2025" in out and "Обращений: 3" in out and "ИТОГО" in out and "Выручка: 230 000,50 ₽" in out


@pytest.mark.parametrize("by", ["ad_source", "channel", "line", "manager", "day"])
@pytest.mark.parametrize("with_office_hours", [True, False])
async def test_the_query_counts_what_the_python_definitions_count(
        settings: Settings, office: Repository, week: dict[str, str], by: str, with_office_hours: bool) -> None:
    """analytics_figures (GROUPING SETS in SQL) equals aggregate() over one row per inquiry, figure by figure."""
    hours = office_hours(settings) if with_office_hours else OfficeHours.from_settings(settings)
    rows = [dict(r) for r in await office.pool.fetch(q("analytics_inquiries"), WEEK_SINCE, WEEK_UNTIL)]
    expected = aggregate(rows, since=WEEK_SINCE, until=WEEK_UNTIL, by=by, hours=hours)
    counted = await analytics(office.pool, since=WEEK_SINCE, until=WEEK_UNTIL, by=by, hours=hours)
    assert counted.rows == expected.rows
    assert counted.totals == expected.totals


async def test_a_call_of_the_same_second_counts_as_the_first_answer(
        settings: Settings, office: Repository, week: dict[str, str]) -> None:
    """#4's caller is rung back in the very second they called (a PBX's callback): the query's running
    minimum skips the same second, so it asks the index there, as the per-row definition does."""
    pool = office.pool
    await pool.execute(
        "INSERT INTO communications (entry_id, direction, status, phone, contact_id, started_at, answered_at,"
        " ended_at) SELECT 'same-second', 'outbound', 'answered', phone, contact_id, started_at,"
        " started_at + interval '7 seconds', started_at + interval '60 seconds'"
        " FROM communications WHERE entry_id = $1", week["w4"])
    hours = office_hours(settings)
    rows = [dict(r) for r in await pool.fetch(q("analytics_inquiries"), WEEK_SINCE, WEEK_UNTIL)]
    expected = aggregate(rows, since=WEEK_SINCE, until=WEEK_UNTIL, by="ad_source", hours=hours)
    counted = await analytics(pool, since=WEEK_SINCE, until=WEEK_UNTIL, by="ad_source", hours=hours)
    assert counted.rows == expected.rows and counted.totals == expected.totals
    assert counted.totals["called_back_15m"] == TOTALS["called_back_15m"] + 1
