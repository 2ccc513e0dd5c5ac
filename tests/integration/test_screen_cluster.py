"""Two daemons on one database: a screen on one sees calls whose events reached the other."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from config.settings import Settings
from daemon.runtime.app import build_app
from daemon.store.repository import Repository
from tests.conftest import auth
from tests.screenkit import in_order, nothing_more, open_screen, phases_until, post_steps, steps


@pytest.fixture
async def second_daemon(settings: Settings) -> AsyncIterator[TestClient]:
    # A state directory of its own: one spool belongs to one process.
    own = settings.model_copy(update={"state_dir": settings.state_dir.with_name("state-second")})
    app = build_app(own, database_url=settings.database.url, apply_migrations=False)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def test_a_screen_on_one_daemon_sees_a_call_the_other_took(
        client: TestClient, second_daemon: TestClient, office: Repository) -> None:
    ws = await open_screen(second_daemon, "105", auth())
    call = steps("answered_incoming.json")
    await post_steps(client, call[:3])
    phases, card = await phases_until(ws, "ringing")
    assert phases == ["ringing"]
    assert card["contact"]["name"] == "Кузнецова Анна Сергеевна"
    await post_steps(client, call[3:])
    phases, card = await phases_until(ws, "ended")
    assert in_order(phases, ["answered", "ended"])
    assert card["talk_seconds"] == 185
    await ws.close()


async def test_each_daemon_pushes_once_to_its_own_screens(
        client: TestClient, second_daemon: TestClient, office: Repository) -> None:
    """Screens of 105 on both daemons get the card, each exactly once per change."""
    first = await open_screen(client, "105", auth())
    second = await open_screen(second_daemon, "105", auth())
    call = steps("answered_incoming.json")
    await post_steps(second_daemon, call[:3])
    for ws in (first, second):
        phases, _ = await phases_until(ws, "ringing")
        assert phases == ["ringing"]
        await nothing_more(ws)
        await ws.close()


async def test_a_note_saved_on_one_daemon_reaches_the_card_on_the_other(
        client: TestClient, second_daemon: TestClient, office: Repository) -> None:
    ws = await open_screen(second_daemon, "105", auth())
    await post_steps(client, steps("answered_incoming.json"))
    _, card = await phases_until(ws, "ended")
    resp = await client.put(f"/api/communications/{card['communication_id']}/note",
                            json={"note": "Бронь подтверждена"}, headers=auth())
    assert resp.status == 200
    _, updated = await phases_until(ws, "ended")
    assert updated["note"] == "Бронь подтверждена"
    await ws.close()
