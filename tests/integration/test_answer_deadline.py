"""Avito counts a webhook failed when its answer takes over 2 s: with PostgreSQL slow, an Avito
delivery waits for it half of that (then it is spooled, durable, and answered), while the other
senders wait the intake's whole budget (``[spool] db_budget_s``, 2 s by default).

The database is made slow the way a busy one is: another session holds the conversation's lock
that the group commit must take before it writes.
"""

from __future__ import annotations

import asyncpg
import pytest
import structlog.testing
from aiohttp.test_utils import TestClient, TestServer

from daemon.runtime.app import build_app
from daemon.runtime.keys import INTAKE
from tests.channels import example
from tests.messengers import messenger_settings

AVITO = example("avito-message")["request"]
CONVERSATION = "conversation:avito:avito:287654321:u2i-Xk3bL9qYtR2wZ7mN1pQ4sA"


@pytest.fixture
async def client(db_url: str, tmp_path) -> TestClient:
    app = build_app(messenger_settings(db_url, tmp_path / "state"), database_url=db_url, apply_migrations=False)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def test_an_avito_delivery_is_answered_within_avitos_two_seconds_when_the_database_is_slow(
        client: TestClient, db_url: str) -> None:
    assert client.app[INTAKE].budget_for(None) == 2.0
    blocker = await asyncpg.connect(db_url)
    try:
        await blocker.execute("BEGIN")
        with structlog.testing.capture_logs() as logs:
            # The conversation's lock, as the group commit takes it (callbridge_lock_v1).
            await blocker.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", CONVERSATION)
            resp = await client.post("/inquiries/avito?token=avito-url-secret-9", json=AVITO["body"])
            assert resp.status == 200
        down = [e for e in logs if e["event"] == "database_unavailable"]
        assert [e["budget_s"] for e in down] == [1.0]  # half of Avito's 2 s, not the intake's 2 s
        assert await blocker.fetchval("SELECT count(*) FROM inbox") == 0  # not in PostgreSQL: spooled
    finally:
        await blocker.execute("ROLLBACK")
        await blocker.close()
