"""Fair assignment: the responsible manager, else the least loaded on shift under the cap, else a queue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from config.settings import load_settings
from daemon.runtime.app import build_app
from daemon.store.repository import Repository
from tests.channels import channel_env
from tests.conftest import auth, load_office
from tests.integration.test_inbox_api import ORLOV, api_inquiry, until
from tests.screenkit import moved, open_screen, post_steps


@pytest.fixture
async def app_client(db_url: str, tmp_path: Path, repo: Repository) -> AsyncIterator[TestClient]:
    await load_office(repo)
    settings = load_settings(channel_env(db_url, tmp_path / "state", CALLBRIDGE_ASSIGNMENT_CAP="2"))
    app = build_app(settings, database_url=db_url, apply_migrations=False)
    async with TestClient(TestServer(app)) as client:
        yield client


async def items(repo: Repository) -> list[dict[str, Any]]:
    rows = await repo.pool.fetch("SELECT id, assigned_extension, assign_reason FROM inbox_items"
                                 " WHERE state = 'open' ORDER BY id")
    return [dict(r) for r in rows]


async def settled(repo: Repository, count: int) -> list[dict[str, Any]]:
    """The open items once every one of ``count`` has had its first decision."""

    async def decided() -> list[dict[str, Any]] | None:
        found = await items(repo)
        return found if len(found) == count and all(i["assign_reason"] for i in found) else None

    return await until(decided, f"{count} items decided")


async def present(repo: Repository, extension: str) -> bool:
    return bool(await repo.pool.fetchval("SELECT count(*) FROM screen_presence WHERE extension = $1", extension))


async def shift(client: TestClient, extension: str, on: bool) -> None:
    resp = await client.put(f"/api/managers/{extension}/shift", json={"on": on}, headers=auth())
    assert resp.status == 200


async def test_the_active_responsible_manager_first(app_client: TestClient, repo: Repository) -> None:
    await shift(app_client, "105", True)
    await post_steps(app_client, moved("missed_incoming.json", suffix="-a", ago_s=60, number=ORLOV))
    [item] = await settled(repo, 1)
    assert (item["assigned_extension"], item["assign_reason"]) == ("106", "responsible")
    # Petrov (106) leaves the company: Orlov's next miss goes to the manager on shift.
    await repo.pool.execute("UPDATE managers SET active = false WHERE extension = '106'")
    await repo.pool.execute("UPDATE inbox_items SET state = 'closed', closed_at = now(), closed_reason = 'done'")
    await post_steps(app_client, moved("missed_incoming.json", suffix="-b", ago_s=30, number=ORLOV))
    [item] = await settled(repo, 1)
    assert (item["assigned_extension"], item["assign_reason"]) == ("105", "balanced")


async def test_least_loaded_under_the_cap_then_a_queue_oldest_first(app_client: TestClient,
                                                                    repo: Repository) -> None:
    """Cap 2, one manager signed in to the screen: two items his, the next wait; a slot
    that frees takes the oldest waiting within 5 s."""
    ws = await open_screen(app_client, "105", auth())  # signed in: on shift
    for n in range(4):
        await api_inquiry(app_client, f"c-{n}", email=f"c{n}@example.com", text=f"№{n}")
        await settled(repo, n + 1)  # one at a time, so "oldest" is well defined
    found = await items(repo)
    assert [(i["assigned_extension"], i["assign_reason"]) for i in found] == [
        ("105", "balanced"), ("105", "balanced"), (None, "queued"), (None, "queued")]
    first, _, third, fourth = (i["id"] for i in found)
    resp = await app_client.post(f"/api/inbox/{first}/done", json={"extension": "105"}, headers=auth())
    assert resp.status == 200
    started = asyncio.get_running_loop().time()

    async def taken() -> bool:
        return any(i["id"] == third and i["assigned_extension"] == "105" for i in await items(repo))

    await until(taken, "the oldest waiting item assigned")
    assert asyncio.get_running_loop().time() - started < 5.0
    waiting = [i for i in await items(repo) if i["id"] == fourth]
    assert waiting == [{"id": fourth, "assigned_extension": None, "assign_reason": "queued"}]
    # Each decision is kept with its reason, the queue's once.
    decided = await repo.pool.fetch("SELECT extension, reason FROM inbox_decisions WHERE item_id = $1 ORDER BY id",
                                    third)
    assert [tuple(d) for d in decided] == [(None, "queued"), ("105", "balanced")]
    await ws.close()


async def test_fewest_open_items_wins(app_client: TestClient, repo: Repository) -> None:
    await shift(app_client, "105", True)
    await api_inquiry(app_client, "f-1", email="f1@example.com", text="1")
    await settled(repo, 1)
    await shift(app_client, "106", True)
    await api_inquiry(app_client, "f-2", email="f2@example.com", text="2")
    found = await settled(repo, 2)
    assert [i["assigned_extension"] for i in found] == ["105", "106"]


async def test_off_shift_by_hand_even_when_signed_in(app_client: TestClient, repo: Repository) -> None:
    ws = await open_screen(app_client, "105", auth())
    await until(lambda: present(repo, "105"), "the sign-in recorded")  # before he sets himself off
    await shift(app_client, "105", False)
    await api_inquiry(app_client, "off-1", email="off@example.com", text="1")
    [item] = await settled(repo, 1)
    assert (item["assigned_extension"], item["assign_reason"]) == (None, "queued")
    await shift(app_client, "105", True)

    async def assigned() -> bool:
        return (await items(repo))[0]["assigned_extension"] == "105"

    await until(assigned, "assigned once back on shift")
    await ws.close()
