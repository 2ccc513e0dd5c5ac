"""Reminders in the inbox: a task is an item of kind «task» for its manager, closed together with it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from aiohttp.test_utils import TestClient

from config.settings import Settings
from daemon.leads.reminders import refresh_tasks
from daemon.store.queries import q
from daemon.store.repository import Repository
from tests.conftest import auth
from tests.funnelkit import contact

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


async def _inbox(client: TestClient, extension: str) -> list[dict[str, Any]]:
    resp = await client.get("/api/inbox", headers=auth(), params={"extension": extension})
    assert resp.status == 200, await resp.text()
    return [item for item in (await resp.json())["items"] if item["kind"] == "task"]


async def test_a_reminder_is_an_inbox_item_of_its_manager(
        client: TestClient, settings: Settings, office: Repository) -> None:
    pool = office.pool
    anna = await contact(pool, "Анна", phone="+79260006001", birthday=date(1980, 12, 9), responsible="105")
    await refresh_tasks(pool, settings, now=NOW)
    task = await pool.fetchrow("SELECT id, due_at FROM tasks")
    [item] = await _inbox(client, "105")
    assert (item["contact_id"], item["name"], item["phone"]) == (anna, "Анна", "+79260006001")
    assert (item["assigned_extension"], item["assign_reason"]) == ("105", "responsible")
    assert item["last_text"] == "День рождения 09.12: поздравить"
    assert datetime.fromisoformat(item["due_at"]) == task["due_at"]  # the task's own time, not the [sla] clock's
    assert await _inbox(client, "106") == []

    done = await client.post(f"/api/inbox/{item['id']}/done", headers=auth(), json={"extension": "105"})
    assert done.status == 200, await done.text()
    assert await pool.fetchrow("SELECT done_by FROM tasks WHERE id = $1", task["id"]) == ("105",)
    listed = await (await client.get("/api/tasks", headers=auth(), params={"extension": "105"})).json()
    assert listed == [] and await _inbox(client, "105") == []


async def test_a_task_done_closes_its_item(client: TestClient, settings: Settings, office: Repository) -> None:
    pool = office.pool
    await contact(pool, "Анна", phone="+79260006001", birthday=date(1980, 12, 9), responsible="105")
    await refresh_tasks(pool, settings, now=NOW)
    [item] = await _inbox(client, "105")
    task_id = await pool.fetchval("SELECT id FROM tasks")
    assert (await client.post(f"/api/tasks/{task_id}/done", headers=auth(), json={"extension": "105"})).status == 200
    closed = await (await client.get(f"/api/inbox/{item['id']}", headers=auth())).json()
    assert (closed["state"], closed["closed_reason"], closed["closed_by"]) == ("closed", "done", "105")


async def test_a_reminder_is_never_escalated(client: TestClient, settings: Settings, office: Repository) -> None:
    """Its due time passed long ago: the escalation step claims calls and inquiries only."""
    pool = office.pool
    await contact(pool, "Анна", phone="+79260006001", birthday=date(1980, 12, 9), responsible="105")
    await refresh_tasks(pool, settings, now=NOW)
    assert await pool.fetchval("SELECT count(*) FROM inbox_items WHERE kind = 'task' AND due_at < $1", NOW) == 1
    async with pool.acquire() as conn, conn.transaction():
        assert await conn.fetch(q("inbox_escalation_claim"), datetime.now(UTC), 30, 100) == []
