"""The response clock on two daemons sharing one database: overdue once, escalated once, e-mailed once."""

from __future__ import annotations

import asyncio
import email
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from aiosmtpd.smtp import SMTP, Envelope

from config.settings import load_settings
from daemon.inbox.keys import INBOX_CLOCK, INBOX_SWEEP
from daemon.runtime.app import build_app
from daemon.store.repository import Repository
from tests.channels import channel_env
from tests.conftest import auth, load_office
from tests.integration.test_inbox_api import api_inquiry, until
from tests.screenkit import open_screen

ADMIN = "101"


@dataclass
class Mailbox:
    received: list[Envelope] = field(default_factory=list)
    port: int = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Envelope) -> str:
        self.received.append(envelope)
        return "250 Message accepted for delivery"

    def messages(self) -> list[Message]:
        return [email.message_from_bytes(e.content) for e in self.received]  # type: ignore[arg-type]


@pytest.fixture
async def mailbox() -> AsyncIterator[Mailbox]:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it is sent."""
    box = Mailbox()
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(box, hostname="callbridge.test"), "127.0.0.1", 0)
    box.port = server.sockets[0].getsockname()[1]
    yield box
    server.close()
    await server.wait_closed()


@dataclass
class FrozenClock:
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
async def daemons(db_url: str, tmp_path: Path, repo: Repository, mailbox: Mailbox,
                  clock: FrozenClock) -> AsyncIterator[tuple[TestClient, TestClient]]:
    await load_office(repo)
    clients = []
    for name in ("first", "second"):
        settings = load_settings(channel_env(
            db_url, tmp_path / name, CALLBRIDGE_ADMINISTRATOR_EXTENSION=ADMIN, CALLBRIDGE_SMTP_HOST="127.0.0.1",
            CALLBRIDGE_SMTP_PORT=str(mailbox.port), CALLBRIDGE_SMTP_SECURITY="none",
            CALLBRIDGE_REPORT_EMAIL_FROM="callbridge@agency.test", CALLBRIDGE_SLA_NOTIFY_EMAIL="boss@agency.test"))
        app = build_app(settings, database_url=db_url, apply_migrations=False)
        app[INBOX_CLOCK] = clock
        clients.append(TestClient(TestServer(app)))
    for client in clients:
        await client.start_server()
    yield clients[0], clients[1]
    for client in clients:
        await client.close()


async def item_of(client: TestClient, item_id: int) -> dict[str, Any]:
    resp = await client.get(f"/api/inbox/{item_id}", headers=auth())
    assert resp.status == 200
    return await resp.json()


async def messages_of(ws: aiohttp.ClientWebSocketResponse, kind: str, *, wait_s: float) -> list[dict[str, Any]]:
    """Every message of ``kind`` the socket gets within ``wait_s``."""
    found = []
    deadline = asyncio.get_running_loop().time() + wait_s
    while (left := deadline - asyncio.get_running_loop().time()) > 0:
        try:
            msg = await ws.receive_json(timeout=left)
        except TimeoutError:
            break
        if msg.get("type") == kind:
            found.append(msg)
    return found


async def test_two_daemons_fire_each_step_once(daemons: tuple[TestClient, TestClient], repo: Repository,
                                               mailbox: Mailbox, clock: FrozenClock) -> None:
    first, second = daemons
    for extension in ("105", "106"):
        resp = await first.put(f"/api/managers/{extension}/shift", json={"on": True}, headers=auth())
        assert resp.status == 200
    communication = await api_inquiry(first, "late-1", name="Ольга", email="olga@example.com", text="Тур в Египет")
    item_id = await repo.pool.fetchval("SELECT id FROM inbox_items WHERE communication_id = $1", communication)

    async def assigned() -> dict[str, Any] | None:
        found = await item_of(second, item_id)
        return found if found["assigned_extension"] and found["due_at"] else None

    item = await until(assigned, "the assignment")
    # Two managers on shift with nothing open: the tie goes to the first extension.
    assert (item["assigned_extension"], item["assign_reason"]) == ("105", "balanced")
    due = datetime.fromisoformat(item["due_at"])
    assert due == datetime.fromisoformat(item["received_at"]) + timedelta(minutes=15)  # no office hours: 24/7
    manager = await open_screen(first, "105", auth())
    admin = await open_screen(second, ADMIN, auth())
    other = await open_screen(second, "106", auth())

    clock.now = due + timedelta(seconds=1)
    # Both screens watched over the same 4 s (one after the other took 8).
    for alerts in await asyncio.gather(*(messages_of(ws, "overdue", wait_s=4.0) for ws in (manager, admin))):
        assert [(a["item"]["id"], a["escalated"], a["item"]["overdue"]) for a in alerts] == [(item_id, False, True)]
    assert await messages_of(other, "overdue", wait_s=0.5) == []
    assert (await item_of(first, item_id))["assigned_extension"] == "105"  # not yet escalated

    clock.now = due + timedelta(minutes=30, seconds=1)

    async def escalated() -> dict[str, Any] | None:
        found = await item_of(first, item_id)
        return found if found["assign_reason"] == "escalated" else None

    item = await until(escalated, "the escalation")
    assert item["assigned_extension"] == "106"
    await asyncio.sleep(3.0)  # three more passes of each daemon's sweep: nothing fires again
    decisions = (await item_of(first, item_id))["decisions"]
    assert [(d["reason"], d["extension"], d["previous"]) for d in decisions] == [
        ("balanced", "105", None), ("escalated", "106", "105")]
    assert len(mailbox.received) == 1
    message = mailbox.messages()[0]
    assert message["To"] == "boss@agency.test"
    body = message.get_payload(decode=True).decode("utf-8")  # type: ignore[union-attr]
    assert f"#{item_id}" in body and "Ольга" in body and "передано 106" in body
    steps = await repo.pool.fetchrow("SELECT overdue_at, escalated_at FROM inbox_items WHERE id = $1", item_id)
    assert steps["overdue_at"] == due + timedelta(seconds=1)
    assert steps["escalated_at"] == due + timedelta(minutes=30, seconds=1)
    for ws in (manager, admin, other):
        await ws.close()


async def test_the_gauge_counts_open_items_by_state(daemons: tuple[TestClient, TestClient], clock: FrozenClock) -> None:
    first, _ = daemons
    first.app[INBOX_SWEEP].count_every_s = 0.0  # the gauge on every pass, not every 10 s
    await api_inquiry(first, "g-1", email="a@example.com", text="Первое")
    await api_inquiry(first, "g-2", email="b@example.com", text="Второе")

    async def counted() -> str | None:
        text = await (await first.get("/metrics", headers=auth())).text()
        return text if 'callbridge_inbox_items{state="queued"} 2.0' in text else None

    await until(counted, "two queued items (nobody on shift)")
    clock.now = datetime.now(UTC) + timedelta(hours=1)

    async def overdue() -> str | None:
        text = await (await first.get("/metrics", headers=auth())).text()
        return text if 'callbridge_inbox_items{state="overdue"} 2.0' in text else None

    await until(overdue, "two overdue items")
