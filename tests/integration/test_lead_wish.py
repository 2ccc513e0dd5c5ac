# ruff: noqa: F811  (app_client, a fixture imported from tests.channels, is a parameter here)
"""The lead's wish end to end: inquiries and a call note fill it, a manager edits it, the API shows it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from aiohttp.test_utils import TestClient

from daemon.inquiries.wish_step import refine_lead_wish
from daemon.store.repository import Repository
from tests.channels import SOURCES, app_client, channel_env  # noqa: F401  (app_client: a fixture)
from tests.conftest import auth

FORM = {"Authorization": f"Bearer {SOURCES['tour-module']['secret']}"}


def ahead(month: int, day: int) -> str:
    """The next ``day.month`` on or after today (UTC): what «10 июня» means in an inquiry sent now."""
    today = datetime.now(UTC).date()
    found = date(today.year, month, day)
    return (found if found >= today else date(today.year + 1, month, day)).isoformat()


async def inquire(client: TestClient, external_id: str, text: str, phone: str = "+79035550101") -> dict[str, Any]:
    resp = await client.post("/api/inquiries", json={"source": "partner-site", "external_id": external_id,
                                                     "phone": phone, "text": text}, headers=auth())
    assert resp.status in (200, 201), await resp.text()
    return await resp.json()


async def lead(client: TestClient, lead_id: int) -> dict[str, Any]:
    resp = await client.get(f"/api/leads/{lead_id}", headers=auth())
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_an_inquiry_fills_the_wish_of_its_lead(app_client: TestClient) -> None:
    filed = await inquire(app_client, "w-1", "Хотим в Анталию с 10 по 20 июня на 10–12 ночей, 2 взрослых и "
                                             "ребёнок 5 лет, до 250 тыс., вылет из Казани")
    found = await lead(app_client, filed["lead_id"])
    wish = found["wish"]
    assert found["id"] == filed["lead_id"] and found["status"] == "open"
    assert wish["destination"] == {"country": "Турция", "resort": "Анталья"}
    assert (wish["date_from"], wish["date_to"]) == (ahead(6, 10), ahead(6, 20))
    assert (wish["nights_from"], wish["nights_to"], wish["adults"], wish["children"]) == (10, 12, 2, [5])
    assert wish["budget"] == {"amount_from": None, "amount_to": 250000, "currency": "RUB"}
    assert wish["departure_city"] == "Казань"
    assert wish["sources"]["destination"]["communication_id"] == filed["communication_id"]
    assert wish["sources"]["destination"]["words"] == "анталию"
    assert wish["summary"] == ("Турция, Анталья · 10–20 июня · 10–12 ночей · 2 взр. + реб. 5 лет · "
                               "до 250\u00a0000 ₽ · из Казани")


async def test_a_later_message_refines_and_a_managers_value_stays(app_client: TestClient) -> None:
    first = await inquire(app_client, "w-2", "Египет, Хургада, в июне, 2 взрослых")
    lead_id = first["lead_id"]
    put = await app_client.put(f"/api/leads/{lead_id}/wish?by=screen:105", headers=auth(),
                               json={"destination": {"country": "Тунис", "resort": None}, "hotel_stars": 4})
    assert put.status == 200, await put.text()
    second = await inquire(app_client, "w-3", "А лучше в Турцию в июле, нас будет трое")
    assert second["lead_id"] == lead_id
    wish = (await lead(app_client, lead_id))["wish"]
    assert wish["destination"] == {"country": "Тунис", "resort": None}  # the manager's, not the later message's
    assert wish["sources"]["destination"]["by"] == "screen:105"
    assert (wish["date_from"], wish["date_to"]) == (ahead(7, 1), ahead(7, 31))  # «лучше в июле» moved them
    assert wish["adults"] == 3 and wish["hotel_stars"] == 4
    assert wish["sources"]["dates"]["communication_id"] == second["communication_id"]


async def test_a_manager_clears_a_field_and_bad_edits_are_400(app_client: TestClient) -> None:
    filed = await inquire(app_client, "w-4", "Кипр в сентябре на 7 ночей, бюджет 150 тыс")
    lead_id = filed["lead_id"]
    cleared = await app_client.put(f"/api/leads/{lead_id}/wish", json={"budget": None, "nights_to": 9},
                                   headers=auth())
    wish = (await cleared.json())["wish"]
    assert wish["budget"] is None and (wish["nights_from"], wish["nights_to"]) == (7, 9)
    for body in ({"adults": 0}, {"meal": "XX"}, {"nights_from": 10}, {"color": "red"}, [], {"children": [30]}):
        bad = await app_client.put(f"/api/leads/{lead_id}/wish", json=body, headers=auth())
        assert bad.status == 400, body
        assert "error" in await bad.json()
    missing = await app_client.put("/api/leads/999999/wish", json={"adults": 2}, headers=auth())
    assert missing.status == 404


async def test_a_form_fills_the_wish_from_its_named_fields(app_client: TestClient) -> None:
    body = {"submission_id": "f-1", "phone": "+7 926 000-11-22", "Страна": "Турция", "Город вылета": "Екатеринбург",
            "Даты поездки": "15.07 - 25.07", "Взрослых": "2", "Детей": "1", "Возраст детей": "7",
            "Бюджет": "200000", "message": "Хотим Кемер, 5 звёзд"}
    resp = await app_client.post("/inquiries/tour-module", json=body, headers=FORM)
    assert resp.status == 200, await resp.text()
    phone = await app_client.get("/api/contacts/lookup", params={"phone": "+79260001122"}, headers=auth())
    card = await phone.json()
    wish = card["open_lead_wish"]
    assert wish["destination"] == {"country": "Турция", "resort": "Кемер"}
    assert (wish["departure_city"], wish["adults"], wish["children"], wish["hotel_stars"]) == ("Екатеринбург", 2, [7], 5)
    assert (wish["date_from"], wish["date_to"]) == (ahead(7, 15), ahead(7, 25))
    assert wish["budget"]["amount_to"] == 200000


async def test_the_uon_export_and_no_wish(app_client: TestClient) -> None:
    filed = await inquire(app_client, "w-5", "ОАЭ, Дубай, 7 ночей, 2 взр + 2 реб (3 и 8), $3000")
    uon = await app_client.get(f"/api/leads/{filed['lead_id']}/wish", params={"format": "uon"}, headers=auth())
    fields = await uon.json()
    assert {k: fields[k] for k in ("countries", "nights_from", "nights_to", "tourist_count", "tourist_child_count",
                                    "budget", "budget_currency")} == {
        "countries": ["ОАЭ"], "nights_from": 7, "nights_to": 7, "tourist_count": 2, "tourist_child_count": 2,
        "budget": 3000, "budget_currency": "USD"}
    assert fields["note"].startswith("Хотят: ОАЭ, Дубай")
    silent = await inquire(app_client, "w-6", "Перезвоните мне, пожалуйста", phone="+79035550199")
    assert (await lead(app_client, silent["lead_id"]))["wish"] is None
    bad = await app_client.get(f"/api/leads/{filed['lead_id']}/wish", params={"format": "xml"}, headers=auth())
    assert bad.status == 400


async def test_analytics_by_destination(app_client: TestClient) -> None:
    await inquire(app_client, "w-7", "Турция в июле", phone="+79035550111")
    await inquire(app_client, "w-8", "Хочу в Анталию", phone="+79035550112")
    await inquire(app_client, "w-9", "Египет на майские", phone="+79035550113")
    await inquire(app_client, "w-10", "Перезвоните", phone="+79035550114")
    resp = await app_client.get("/api/analytics", params={"by": "destination"}, headers=auth())
    assert resp.status == 200, await resp.text()
    result = await resp.json()
    counts = {row["key"]: (row["inquiries"], row["leads_opened"]) for row in result["rows"]}
    assert counts == {"Турция": (2, 2), "Египет": (1, 1), None: (1, 1)}
    assert result["by"] == "destination" and result["totals"]["inquiries"] == 4


async def test_a_call_note_refines_the_wish(app_client: TestClient, repo: Repository) -> None:
    filed = await inquire(app_client, "w-11", "Турция, 2 взрослых")
    resp = await app_client.put(f"/api/communications/{filed['communication_id']}/note",
                                json={"note": "Перезвонила: хотят в августе, 10 ночей, бюджет 300 тыс"}, headers=auth())
    assert resp.status == 200
    wish = (await lead(app_client, filed["lead_id"]))["wish"]
    assert (wish["date_from"], wish["nights_from"], wish["budget"]["amount_to"]) == (ahead(8, 1), 10, 300000)
    assert wish["destination"]["country"] == "Турция" and wish["adults"] == 2


async def test_an_older_message_delivered_late_refines_nothing(app_client: TestClient, repo: Repository) -> None:
    """Each field keeps its message's time: a late delivery of an older message leaves the newer fields."""
    filed = await inquire(app_client, "w-12", "Турция, в июле, 2 взрослых")
    async with repo.pool.acquire() as conn:
        older = datetime(2020, 1, 1, tzinfo=UTC)
        await refine_lead_wish(conn, filed["lead_id"], text="Египет, 3 взрослых, бюджет 100 тыс",
                               communication_id=None, at=older)
    wish = (await lead(app_client, filed["lead_id"]))["wish"]
    assert wish["destination"]["country"] == "Турция" and wish["adults"] == 2  # the newer message's
    assert wish["budget"]["amount_to"] == 100000  # a field only the older one named is taken
