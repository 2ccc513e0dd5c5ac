"""The inbox's numbers: first responses (a reply counts as well as a call) in the metric and the analytics."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from aiohttp.test_utils import TestClient

from daemon.inbox.sweep import InboxSweep
from daemon.leads.analytics import analytics
from daemon.routing.policy import OfficeHours
from daemon.runtime.keys import METRICS, RELOADER
from daemon.runtime.metrics import Metrics
from daemon.store.repository import Repository
from tests.conftest import auth
from tests.integration.test_inbox_api import api_inquiry, app_client, until  # noqa: F401


async def replied(repo: Repository, communication_id: int, after: timedelta) -> None:
    """The outbox's part of the contract: a reply ``after`` the inquiry came sets replied_at."""
    await repo.pool.execute("UPDATE communications SET replied_at = started_at + $2 WHERE id = $1",
                            communication_id, after)


def histogram(metrics: Metrics) -> tuple[float, float]:
    """(count, sum) of callbridge_first_response_seconds."""
    samples = {s.name: s.value for m in metrics.first_response.collect() for s in m.samples}
    return samples["callbridge_first_response_seconds_count"], samples["callbridge_first_response_seconds_sum"]


async def test_a_reply_is_a_first_answer_in_sla_or_not(app_client: TestClient, repo: Repository) -> None:  # noqa: F811
    quick = await api_inquiry(app_client, "n-1", email="quick@example.com", text="Быстро ответили")
    slow = await api_inquiry(app_client, "n-2", email="slow@example.com", text="Ответили поздно")
    await api_inquiry(app_client, "n-3", email="never@example.com", text="Не ответили")
    await replied(repo, quick, timedelta(minutes=5))
    await replied(repo, slow, timedelta(minutes=40))
    since = datetime.now(UTC) - timedelta(hours=1)
    settings = app_client.app[RELOADER].current
    result = await analytics(repo.pool, since=since, until=datetime.now(UTC) + timedelta(minutes=1), by="channel",
                             hours=OfficeHours.from_settings(settings), sla=settings.sla)
    [row] = result.rows
    assert row["key"] == "api" and row["inquiries"] == 3
    assert row["answered_in_sla_share"] == 0.3333  # 5 min of 15: in; 40 min: late; none: not answered
    assert row["first_answer_p50_s"] == 1350.0  # (300 + 2400) / 2: the replies are the first answers
    # With e-mail given an hour ([sla.channels]), the 40-minute reply is in time as well.
    sla = settings.sla.model_copy(update={"channels": {"api": 60}})
    result = await analytics(repo.pool, since=since, until=datetime.now(UTC) + timedelta(minutes=1), by="channel",
                             hours=OfficeHours.from_settings(settings), sla=sla)
    assert result.rows[0]["answered_in_sla_share"] == 0.6667


async def test_first_responses_are_counted_once(app_client: TestClient, repo: Repository) -> None:  # noqa: F811
    """Each closed item is observed by one sweep only, whichever daemon's; a manager's «done» is not a response."""
    mine = Metrics()
    other = InboxSweep(repo, settings=lambda: app_client.app[RELOADER].current, metrics=mine)
    before = histogram(app_client.app[METRICS])
    first = await api_inquiry(app_client, "m-1", email="m1@example.com", text="1")
    await api_inquiry(app_client, "m-2", email="m2@example.com", text="2")
    await replied(repo, first, timedelta(minutes=7))
    done = await repo.pool.fetchval("SELECT id FROM inbox_items WHERE state = 'open'")
    resp = await app_client.post(f"/api/inbox/{done}/done", json={"extension": "105"}, headers=auth())
    assert resp.status == 200
    # This sweep and the app's own run side by side, as two daemons' would.
    await asyncio.gather(*(other.sweep_once() for _ in range(3)))

    async def all_observed() -> bool:
        return await repo.pool.fetchval("SELECT count(*) FROM inbox_items WHERE observed") == 2

    await until(all_observed, "both closed items observed")
    app_count, app_sum = histogram(app_client.app[METRICS])
    other_count, other_sum = histogram(mine)
    assert (app_count - before[0] + other_count, app_sum - before[1] + other_sum) == (1, 420.0)
