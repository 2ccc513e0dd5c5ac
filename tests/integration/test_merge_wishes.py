"""Two open leads become one in a contact merge: the closed lead's wish joins the surviving lead's
field by field, and undo gives it back. Through the HTTP API, against real PostgreSQL."""

from __future__ import annotations

from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from daemon.contacts.merge_wishes import restored
from tests.conftest import auth
from tests.integration.test_lead_wish import app_client, inquire, lead

__all__ = ["app_client"]  # the fixture, shared with the wish's own tests


async def wish(client: TestClient, lead_id: int) -> dict[str, Any]:
    return (await lead(client, lead_id))["wish"]


async def edit(client: TestClient, lead_id: int, body: dict[str, Any]) -> None:
    resp = await client.put(f"/api/leads/{lead_id}/wish?by=screen:105", json=body, headers=auth())
    assert resp.status == 200, await resp.text()


async def post(client: TestClient, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    resp = await client.post(path, json=body or {}, headers=auth())
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_the_closed_leads_wish_fills_the_survivors_gaps_and_undo_gives_it_back(
        app_client: TestClient, pool: asyncpg.Pool) -> None:
    # Анна writes from her own phone, then from her husband's: two contacts, two open leads.
    own = await inquire(app_client, "mw-1", phone="+79035550201", text="Хотим в Анталию, 2 взрослых")
    other = await inquire(app_client, "mw-2", phone="+79035550202", text="Египет, до 250 тыс., вылет из Казани")
    await edit(app_client, own["lead_id"], {"adults": 3})  # the survivor's manager knows better
    await edit(app_client, other["lead_id"], {"hotel_stars": 5})  # a manager's word on the other lead
    before = await wish(app_client, own["lead_id"])
    theirs = await wish(app_client, other["lead_id"])

    merged = await post(app_client, "/api/contacts/merge", {"survivor_id": own["contact_id"],
                                                            "merged_ids": [other["contact_id"]], "reason": "одна семья"})
    assert await pool.fetchval("SELECT status FROM leads WHERE id = $1", other["lead_id"]) == "merged"
    joined = await wish(app_client, own["lead_id"])
    # The survivor's own fields win, parsed and edited alike ...
    assert joined["destination"] == before["destination"] == {"country": "Турция", "resort": "Анталья"}
    assert joined["adults"] == 3
    # ... and the closed lead's fill its gaps, a manager's field still a manager's.
    assert joined["budget"] == theirs["budget"] and joined["budget"]["amount_to"] == 250000
    assert joined["departure_city"] == "Казань"
    assert joined["hotel_stars"] == 5 and joined["sources"]["hotel_stars"]["by"] == "screen:105"
    assert await wish(app_client, other["lead_id"]) == theirs  # the closed lead keeps its own

    # Refined after the merge: the manager's new word is not the merge's, and stays after the undo.
    await edit(app_client, own["lead_id"], {"departure_city": "Москва"})
    await post(app_client, f"/api/merges/{merged['merge_id']}/undo")
    back = await wish(app_client, own["lead_id"])
    assert back["budget"] == before["budget"] and back["hotel_stars"] == before["hotel_stars"]
    assert (back["destination"], back["adults"], back["departure_city"]) == (before["destination"], 3, "Москва")
    assert await wish(app_client, other["lead_id"]) == theirs


async def test_a_wish_the_merge_made_is_gone_after_the_undo(app_client: TestClient, pool: asyncpg.Pool) -> None:
    silent = await inquire(app_client, "mw-3", phone="+79035550301", text="Перезвоните")  # says nothing of a trip
    wishful = await inquire(app_client, "mw-4", phone="+79035550302", text="Хотим в Анталию")
    assert await wish(app_client, silent["lead_id"]) is None
    merged = await post(app_client, "/api/contacts/merge", {"survivor_id": silent["contact_id"],
                                                            "merged_ids": [wishful["contact_id"]]})
    assert (await wish(app_client, silent["lead_id"]))["destination"]["resort"] == "Анталья"
    await post(app_client, f"/api/merges/{merged['merge_id']}/undo")
    assert await wish(app_client, silent["lead_id"]) is None
    assert await pool.fetchval("SELECT count(*) FROM lead_wishes WHERE lead_id = $1", silent["lead_id"]) == 0


def test_undo_restores_only_the_fields_that_still_hold_what_the_merge_wrote() -> None:
    before = {"adults": {"value": 2}}
    after = {"adults": {"value": 2}, "budget": {"value": 1}, "nights": {"value": 7}}
    now = {"adults": {"value": 2}, "budget": {"value": 1}, "nights": {"value": 9}, "stars": {"value": 4}}
    assert restored(now, before, after) == {"adults": {"value": 2}, "nights": {"value": 9}, "stars": {"value": 4}}
