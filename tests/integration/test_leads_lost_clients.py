"""Lost clients: bought before, silent since; listed best customer first, spread over managers,
and gone from the list once called."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import python_calamine
from aiohttp.test_utils import TestClient

from config.settings import Settings
from daemon.store.repository import Repository
from tests.conftest import auth, run_cli
from tests.leadkit import ANSWERED, post_call

NOW = datetime.now(UTC)
TODAY = NOW.date()


async def contact(pool: asyncpg.Pool, name: str, phone: str, *, email: str | None = None,
                  do_not_call: bool = False) -> int:
    contact_id = await pool.fetchval("INSERT INTO contacts (name) VALUES ($1) RETURNING id", name)
    await pool.execute(
        "INSERT INTO contact_identifiers (kind, value, contact_id, do_not_call_since) VALUES ('phone', $1, $2, $3)",
        phone, contact_id, NOW if do_not_call else None)
    if email:
        await pool.execute("INSERT INTO contact_identifiers (kind, value, contact_id) VALUES ('email', $1, $2)",
                           email, contact_id)
    return contact_id


async def trip(pool: asyncpg.Pool, order: str, contact_id: int, ended_days_ago: int, amount: str,
               status: str = "paid") -> None:
    ends = TODAY - timedelta(days=ended_days_ago)
    await pool.execute(
        "INSERT INTO trips (order_number, contact_id, status, amount, starts_on, ends_on, booked_at)"
        " VALUES ($1, $2, $3, $4::numeric, $5, $6, $7)",
        order, contact_id, status, amount, ends - timedelta(days=10), ends, NOW - timedelta(days=ended_days_ago + 60))


async def call(pool: asyncpg.Pool, entry: str, contact_id: int, days_ago: int) -> None:
    await pool.execute("INSERT INTO communications (entry_id, direction, status, contact_id, started_at)"
                       " VALUES ($1, 'inbound', 'answered', $2, $3)", entry, contact_id, NOW - timedelta(days=days_ago))


async def lost_office(pool: asyncpg.Pool) -> dict[str, int]:
    ids = {}
    ids["one"] = await contact(pool, "Лост Один", "+79270000001", email="one@example.ru")
    await trip(pool, "O1", ids["one"], 400, "300000")
    await trip(pool, "O2", ids["one"], 700, "120000.50")
    await trip(pool, "O3", ids["one"], 100, "90000", status="cancelled")  # does not count
    await call(pool, "o-call", ids["one"], 300)
    ids["two"] = await contact(pool, "Лост Два", "+79270000002")
    await trip(pool, "T1", ids["two"], 800, "500000")
    recent = await contact(pool, "Недавно ездил", "+79270000003")
    await trip(pool, "R1", recent, 200, "900000")
    talked = await contact(pool, "Звонил месяц назад", "+79270000004")
    await trip(pool, "K1", talked, 400, "900000")
    await call(pool, "k-call", talked, 30)
    in_work = await contact(pool, "Есть открытый лид", "+79270000005")
    await trip(pool, "W1", in_work, 400, "900000")
    await pool.execute("INSERT INTO leads (contact_id, opened_at, last_activity_at) VALUES ($1, $2, $2)",
                       in_work, NOW - timedelta(days=200))
    dnc = await contact(pool, "Не звонить", "+79270000006", do_not_call=True)
    await trip(pool, "D1", dnc, 400, "900000")
    cancelled = await contact(pool, "Только отмена", "+79270000007")
    await trip(pool, "C1", cancelled, 400, "900000", status="cancelled")
    merged = await contact(pool, "Слит", "+79270000008")
    await trip(pool, "M1", merged, 400, "900000")
    await pool.execute("UPDATE contacts SET merged_into = $1 WHERE id = $2", ids["one"], merged)
    return ids


async def test_lost_clients_are_the_silent_buyers_best_first(
        client: TestClient, office: Repository) -> None:
    ids = await lost_office(office.pool)
    doc = await (await client.get("/api/reports/lost-clients", headers=auth())).json()
    assert (doc["total"], doc["offset"], doc["limit"]) == (2, 0, 200)
    assert doc["items"] == [
        {"contact_id": ids["two"], "name": "Лост Два", "phones": ["+79270000002"], "emails": [],
         "responsible_extension": None, "paid_trips": 1, "revenue": 500000.0,
         "last_trip_end": (TODAY - timedelta(days=800)).isoformat(), "last_contact_at": None, "tags": []},
        {"contact_id": ids["one"], "name": "Лост Один", "phones": ["+79270000001"], "emails": ["one@example.ru"],
         "responsible_extension": None, "paid_trips": 2, "revenue": 420000.5,
         "last_trip_end": (TODAY - timedelta(days=400)).isoformat(),
         "last_contact_at": (NOW - timedelta(days=300)).isoformat(), "tags": []},
    ]
    resp = await client.get("/api/reports/lost-clients", params={"format": "xlsx"}, headers=auth())
    assert resp.status == 200
    book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(await resp.read()))
    sheet = book.get_sheet_by_index(0).to_python()
    assert sheet[0][:3] == ["ID", "Клиент", "Телефоны"]
    assert [(r[1], r[6]) for r in sheet[1:]] == [("Лост Два", 500000.0), ("Лост Один", 420000.5)]
    assert sheet[2][7] == TODAY - timedelta(days=400)  # a real date cell
    assert (await client.get("/api/reports/lost-clients", params={"format": "pdf"}, headers=auth())).status == 400


async def test_assign_spreads_them_and_a_call_takes_one_off_the_list(
        settings: Settings, client: TestClient, office: Repository, tmp_path: Path) -> None:
    ids = await lost_office(office.pool)
    code, out, err = await run_cli(settings, "report", "lost-clients", "--assign", "105,106", "--format", "csv")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("ID,Клиент,Телефоны")
    assert [line.split(",")[1] for line in lines[1:]] == ["Лост Два", "Лост Один"]
    responsible = dict(await office.pool.fetch(
        "SELECT c.id, m.extension FROM contacts c JOIN managers m ON m.id = c.responsible_id WHERE c.id = ANY($1)",
        [ids["one"], ids["two"]]))
    assert responsible == {ids["two"]: "105", ids["one"]: "106"}
    code, _, err = await run_cli(settings, "report", "lost-clients", "--assign", "999")
    assert code == 1 and "no active manager with extension 999" in err
    out_file = tmp_path / "lost.xlsx"
    code, _, err = await run_cli(settings, "report", "lost-clients", "--format", "xlsx", "--output", str(out_file))
    assert code == 0, err
    assert out_file.read_bytes()[:2] == b"PK"

    await post_call(client, ANSWERED, name="lost2", number="79270000002", at=NOW - timedelta(minutes=5))
    code, out, err = await run_cli(settings, "report", "lost-clients")
    assert code == 0, err
    assert "Потерянные клиенты: 1, выручка " in out and "Лост Один" in out and "Лост Два" not in out


async def test_a_name_that_looks_like_a_formula_stays_text(client: TestClient, office: Repository) -> None:
    pool = office.pool
    sly = await contact(pool, '=HYPERLINK("http://x","Жми")', "+79270000009")
    await trip(pool, "F1", sly, 400, "1000")
    text = await (await client.get("/api/reports/lost-clients", params={"format": "csv"}, headers=auth())).text()
    assert "'=HYPERLINK" in text
    resp = await client.get("/api/reports/lost-clients", params={"format": "xlsx"}, headers=auth())
    sheet = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(await resp.read())).get_sheet_by_index(0)
    assert sheet.to_python()[1][1] == '=HYPERLINK("http://x","Жми")'  # a string cell, not a formula


async def test_the_api_answers_one_page_and_says_how_many_there_are(
        client: TestClient, office: Repository) -> None:
    """limit/offset page through the list in its order (the best first); past the end: no items, the total."""
    ids = await lost_office(office.pool)

    async def page(**params: str) -> dict:
        resp = await client.get("/api/reports/lost-clients", params=params, headers=auth())
        assert resp.status == 200, await resp.text()
        return await resp.json()

    first, second = await page(limit="1"), await page(limit="1", offset="1")
    assert [(d["total"], [r["contact_id"] for r in d["items"]]) for d in (first, second)] == [
        (2, [ids["two"]]), (2, [ids["one"]])]
    assert (await page(offset="5"))["items"] == [] and (await page(offset="5"))["total"] == 2
    resp = await client.get("/api/reports/lost-clients", params={"format": "xlsx", "limit": "1", "offset": "1"},
                            headers=auth())
    assert resp.headers["X-Total-Count"] == "2"
    sheet = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(await resp.read())).get_sheet_by_index(0)
    assert [r[1] for r in sheet.to_python()[1:]] == ["Лост Один"]
    for params in ({"limit": "0"}, {"limit": "10001"}, {"offset": "-1"}, {"limit": "x"}):
        resp = await client.get("/api/reports/lost-clients", params=params, headers=auth())
        assert resp.status == 400, params
