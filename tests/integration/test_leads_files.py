"""From files to figures: trips imported from the spreadsheets the test writes, calls from PBX events,
and the analytics and lost clients equal to the hand count (test_leads_analytics.py explains it)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import xlsxwriter
from aiohttp.test_utils import TestClient

from config.settings import Settings
from daemon.leads.analytics import analytics
from daemon.store.repository import Repository
from tests.conftest import auth, run_cli
from tests.integration.test_leads_analytics import AVITO, NO_SOURCE, TOTALS, YANDEX, office_hours
from tests.leadkit import P1, P4, WEEK_SINCE, WEEK_UNTIL, post_week

HEADER = ["Номер заявки", "Клиент", "Телефон", "E-mail", "Вылет", "Возвращение", "Стоимость", "Оплата",
          "Менеджер", "Дата заявки"]


def write_xlsx(path: Path, rows: list[list[object]]) -> None:
    """As the booking system exports it: a title line, then the header, number and date cells."""
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Заявки")
    day = book.add_format({"num_format": "dd.mm.yyyy"})
    sheet.write(0, 0, "Выгрузка заявок за март 2025")
    sheet.write_row(2, 0, HEADER)
    for n, row in enumerate(rows, start=3):
        for col, value in enumerate(row):
            if isinstance(value, date):
                sheet.write_datetime(n, col, datetime.combine(value, datetime.min.time()), day)
            else:
                sheet.write(n, col, value)
    book.close()


async def test_week_with_bookings_from_a_spreadsheet_gives_the_hand_count(
        settings: Settings, client: TestClient, office: Repository, tmp_path: Path) -> None:
    entries = await post_week(client)
    bookings = tmp_path / "bookings.xlsx"
    write_xlsx(bookings, [
        ["2025-0311", "Первый", f"+{P1}", "", date(2025, 5, 1), date(2025, 5, 10), "150 000,00", "Оплачена",
         "105", date(2025, 3, 5)],
        ["2025-0312", "Четвёртый", f"8{P4[1:]}", "", date(2025, 6, 1), date(2025, 6, 8), 80000.5,
         "Оплачено полностью", "105", date(2025, 3, 7)],
        ["2025-0313", "Четвёртый", f"+{P4}", "", date(2025, 7, 1), date(2025, 7, 8), 50000, "Аннулирована",
         "105", date(2025, 3, 7)],
    ])
    code, out, err = await run_cli(settings, "import", "trips", str(bookings))
    assert code == 0, err
    assert "строк 3, новых 3, обновлено 0, без изменений 0, отклонено 0; новых контактов-покупателей 0; выиграно лидов 2" in out
    for name, reason in (("w2", "Конкуренты"), ("w4", "Переезд")):
        lead_id = await office.pool.fetchval("SELECT lead_id FROM communications WHERE entry_id = $1", entries[name])
        resp = await client.put(f"/api/leads/{lead_id}/close", json={"outcome": "lost", "reason": reason},
                                headers=auth())
        assert resp.status == 200
    result = await analytics(office.pool, since=WEEK_SINCE, until=WEEK_UNTIL, by="ad_source",
                             hours=office_hours(settings))
    assert result.rows == [YANDEX, AVITO, NO_SOURCE]
    assert result.totals == TOTALS
    code, out, err = await run_cli(settings, "import", "trips", str(bookings))
    assert code == 0 and "строк 3, новых 0, обновлено 0, без изменений 3" in out and "выиграно лидов 0" in out
    assert await office.pool.fetchval("SELECT count(*) FROM trips") == 3


async def test_lost_clients_from_a_csv_export(settings: Settings, client: TestClient, office: Repository,
                                              tmp_path: Path) -> None:
    today = datetime.now(UTC).date()

    def d(days_ago: int) -> str:
        return (today - timedelta(days=days_ago)).strftime("%d.%m.%Y")

    export = tmp_path / "trips.csv"
    export.write_text(
        "Номер заявки;ФИО;Телефон;E-mail;Дата начала;Дата окончания;Сумма;Статус;Менеджер\n"
        f"L-1;Старый Клиент;+7 927 000-00-01;old@example.ru;{d(410)};{d(400)};300 000,00;Оплачена;105\n"
        f"L-2;Старый Клиент;+7 927 000-00-01;;{d(710)};{d(700)};120000.50;Оплачено полностью;105\n"
        f"L-3;Давний Клиент;+7 927 000-00-02;;{d(810)};{d(800)};500 000;Оплачена;106\n"
        f"L-4;Свежий Клиент;+7 927 000-00-03;;{d(210)};{d(200)};900 000;Оплачена;106\n"
        f"L-5;Отказник;+7 927 000-00-04;;{d(410)};{d(400)};900 000;Аннулирована;106\n",
        encoding="cp1251")
    code, out, err = await run_cli(settings, "import", "trips", str(export))
    assert code == 0, err
    assert "строк 5, новых 5, обновлено 0, без изменений 0, отклонено 0; новых контактов-покупателей 4" in out
    code, out, err = await run_cli(settings, "report", "lost-clients", "--format", "json")
    assert code == 0, err
    rows = json.loads(out)["rows"]
    assert [(r["name"], r["paid_trips"], r["revenue"], r["last_trip_end"], r["phones"], r["emails"])
            for r in rows] == [
        ("Давний Клиент", 1, 500000.0, (today - timedelta(days=800)).isoformat(), ["+79270000002"], []),
        ("Старый Клиент", 2, 420000.5, (today - timedelta(days=400)).isoformat(), ["+79270000001"],
         ["old@example.ru"]),
    ]


async def test_a_file_without_order_numbers_is_refused_with_a_reason(settings: Settings, tmp_path: Path) -> None:
    export = tmp_path / "no-orders.csv"
    export.write_text("ФИО;Телефон;Сумма\nКто-то;+7 927 000-00-09;1000\n", encoding="utf-8")
    code, out, err = await run_cli(settings, "import", "trips", str(export))
    assert code == 1
    assert "no order number column" in err
