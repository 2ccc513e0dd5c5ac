"""The inbox through its API: what comes in is listed until it is answered, by a call, a reply or by hand."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from config.settings import load_settings
from daemon.runtime.app import build_app
from daemon.store.repository import Repository
from tests.channels import channel_env
from tests.conftest import auth, load_office
from tests.screenkit import Step, moved, post_steps

ORLOV = "79031112233"  # in tests/fixtures/contacts.csv, responsible 106
WAIT_S = 10.0


@pytest.fixture
async def app_client(db_url: str, tmp_path: Path, repo: Repository) -> AsyncIterator[TestClient]:
    await load_office(repo)
    settings = load_settings(channel_env(db_url, tmp_path / "state"))
    app = build_app(settings, database_url=db_url, apply_migrations=False)
    async with TestClient(TestServer(app)) as client:
        yield client


async def inbox(client: TestClient, query: str = "") -> dict[str, Any]:
    resp = await client.get(f"/api/inbox{query}", headers=auth())
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def until(check: Callable[[], Awaitable[Any]], what: str) -> Any:
    """The first truthy answer of ``check``, asked until WAIT_S is over."""
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while True:
        found = await check()
        if found:
            return found
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


def renumbered(some_steps: list[Step], old: str, new: str) -> list[Step]:
    """The steps with the customer's number ``old`` as ``new`` (an outbound call's is the callee)."""
    return [(path, json.loads(json.dumps(payload).replace(f'"{old}"', f'"{new}"'))) for path, payload in some_steps]


async def api_inquiry(client: TestClient, external_id: str, **fields: Any) -> int:
    body = {"source": "partner-site", "external_id": external_id, **fields}
    resp = await client.post("/api/inquiries", json=body, headers=auth())
    assert resp.status == 201, await resp.text()
    return (await resp.json())["communication_id"]


async def test_a_missed_call_waits_until_the_caller_is_called_back(app_client: TestClient) -> None:
    await post_steps(app_client, moved("missed_incoming.json", suffix="-m1", ago_s=600, number=ORLOV))
    found = await inbox(app_client)
    assert found["total"] == 1
    item = found["items"][0]
    assert (item["kind"], item["phone"], item["channel"]) == ("call", "+" + ORLOV, "call")
    assert item["name"] == "Орлов Дмитрий Викторович" or item["name"].startswith("Орлов")
    assert 590 <= item["waiting_s"] <= 900
    # A second miss before the call back joins the first: one caller, one item.
    await post_steps(app_client, moved("missed_incoming.json", suffix="-m2", ago_s=300, number=ORLOV))
    assert (await inbox(app_client))["total"] == 1
    # Orlov's responsible manager (106, active) gets it, and the decision is stored.
    assigned = await until(lambda: _assigned(app_client, item["id"]), "the assignment")
    assert (assigned["assigned_extension"], assigned["assign_reason"]) == ("106", "responsible")
    assert [d["reason"] for d in assigned["decisions"]] == ["responsible"]
    assert (await inbox(app_client, "?extension=106"))["total"] == 1
    assert (await inbox(app_client, "?extension=105"))["total"] == 0
    # Called back (an answered call with the number, either way): gone from the list.
    await post_steps(app_client, moved("answered_incoming.json", suffix="-cb", ago_s=60, number=ORLOV))
    assert (await inbox(app_client))["total"] == 0
    closed = await (await app_client.get(f"/api/inbox/{item['id']}", headers=auth())).json()
    assert (closed["state"], closed["closed_reason"]) == ("closed", "called_back")


async def _assigned(client: TestClient, item_id: int) -> dict[str, Any] | None:
    found = await (await client.get(f"/api/inbox/{item_id}", headers=auth())).json()
    return found if found["assigned_extension"] else None


async def test_an_inquiry_waits_until_a_reply_or_a_call(app_client: TestClient, repo: Repository) -> None:
    replied = await api_inquiry(app_client, "q-1", name="Иван", phone="8 999 111-22-33", text="Хочу в Сочи")
    called = await api_inquiry(app_client, "q-2", name="Пётр", phone="8 999 444-55-66", text="Горящий тур?")
    found = await inbox(app_client)
    assert found["total"] == 2
    by_comm = {i["communication_id"]: i for i in found["items"]}
    assert by_comm[replied]["kind"] == "inquiry" and by_comm[replied]["last_text"] == "Хочу в Сочи"
    assert by_comm[replied]["source"] == "partner-site"
    # The outbox's part of the contract: a reply sets replied_at.
    await repo.pool.execute("UPDATE communications SET replied_at = now() WHERE id = $1", replied)
    assert [i["communication_id"] for i in (await inbox(app_client))["items"]] == [called]
    # An answered outbound call to Пётр's phone answers his form.
    await post_steps(app_client, renumbered(moved("outgoing_callback.json", suffix="-ob"), ORLOV, "79994445566"))
    assert (await inbox(app_client))["total"] == 0


async def test_a_manager_closes_an_item_by_hand(app_client: TestClient) -> None:
    await api_inquiry(app_client, "q-3", name="Спам", email="spam@example.com", text="Купите рекламу")
    item = (await inbox(app_client))["items"][0]
    resp = await app_client.post(f"/api/inbox/{item['id']}/done", json={"extension": "105", "reason": "спам"},
                                 headers=auth())
    assert resp.status == 200
    body = await resp.json()
    assert (body["state"], body["closed_reason"], body["closed_by"], body["closed_note"]) == (
        "closed", "done", "105", "спам")
    assert (await inbox(app_client))["total"] == 0
    again = await app_client.post(f"/api/inbox/{item['id']}/done", json={"extension": "105"}, headers=auth())
    assert again.status == 409
    missing = await app_client.post("/api/inbox/999999/done", json={"extension": "105"}, headers=auth())
    assert missing.status == 404
    bad = await app_client.post(f"/api/inbox/{item['id']}/done", json={"extension": "1 0 5"}, headers=auth())
    assert bad.status == 400


async def test_overdue_first_then_by_due_time(app_client: TestClient, repo: Repository) -> None:
    """The sweep gives each item its due time; the list is overdue first, then by due_at."""
    for n in range(3):
        await api_inquiry(app_client, f"q-o{n}", email=f"c{n}@example.com", text=f"№{n}")
    # Received long ago (15 min of the clock long past) for the last one only.
    await repo.pool.execute(
        "UPDATE inbox_items SET received_at = now() - interval '2 hours', due_at = NULL"
        " WHERE communication_id = (SELECT max(communication_id) FROM inbox_items)")

    async def clocked() -> dict[str, Any] | None:
        found = await inbox(app_client)
        return found if all(i["due_at"] for i in found["items"]) else None

    found = await until(clocked, "due times")
    assert [i["last_text"] for i in found["items"]] == ["№2", "№0", "№1"]
    assert [i["overdue"] for i in found["items"]] == [True, False, False]
    dues = [i["due_at"] for i in found["items"]]
    assert dues == sorted(dues)


async def test_shift_by_hand(app_client: TestClient) -> None:
    resp = await app_client.put("/api/managers/107/shift", json={"on": True}, headers=auth())
    assert resp.status == 200
    assert await resp.json() == {"extension": "107", "on": True, "on_shift": True}
    resp = await app_client.put("/api/managers/107/shift", json={"on": False}, headers=auth())
    assert (await resp.json())["on_shift"] is False
    bad = await app_client.put("/api/managers/107/shift", json={"on": "yes"}, headers=auth())
    assert bad.status == 400
