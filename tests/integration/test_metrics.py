"""GET /metrics: Prometheus text, no token, and labels that no input can multiply."""

from __future__ import annotations

import asyncio
import time

from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from daemon.runtime.keys import REPOSITORY
from tests.conftest import fixture_json, post_event, signed_form
from tests.scenarios import replay, steps

APPEARED = fixture_json("answered_incoming.json")["steps"][0]["json"]


async def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample as (name, sorted labels) -> value."""
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.content_type == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(await resp.text()):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


async def test_metrics_need_no_token_and_name_every_family(client: TestClient) -> None:
    samples = await scrape(client)
    names = {name for name, _ in samples}
    for expected in (
        "callbridge_db_pool_in_use",
        "callbridge_spool_backlog",
        "callbridge_last_event_timestamp_seconds",
        "callbridge_signature_failures_total",
        "callbridge_routing_seconds_count",
    ):
        assert expected in names, expected


async def test_events_are_counted_by_type_and_outcome_with_latency(client: TestClient) -> None:
    call = steps("answered_incoming.json")
    await replay(client, call)
    await replay(client, call[:2])  # repeats
    samples = await scrape(client)
    legs = sum(1 for s in call if s.path == "/events/call")
    assert value(samples, "callbridge_events_total", type="call_leg", outcome="stored") == legs
    assert value(samples, "callbridge_events_total", type="call_leg", outcome="duplicate") == 2
    assert value(samples, "callbridge_events_total", type="call_finished", outcome="stored") == 1
    assert value(samples, "callbridge_event_processing_seconds_count", type="call_leg") == legs + 2
    assert time.time() - value(samples, "callbridge_last_event_timestamp_seconds") < 60


async def test_signature_failures_are_counted_and_hostile_paths_mint_no_series(
    client: TestClient,
) -> None:
    """Fifty refused posts to fifty made-up result paths add to one series, not fifty."""
    before = await scrape(client)
    form = signed_form({"command_id": "x", "result": 1000})
    form["sign"] = "0" * 64
    for i in range(50):
        resp = await client.post(f"/mango/result/made-up-{i}", data=form)
        assert resp.status == 403
    bad = signed_form(APPEARED)
    bad["sign"] = "0" * 64
    assert (await client.post("/mango/events/call", data=bad)).status == 403
    after = await scrape(client)
    new_series = {key for key in after if key not in before}
    assert {labels for name, labels in new_series if name == "callbridge_events_total"} == {
        (("outcome", "rejected_403"), ("type", "result")),
        (("outcome", "rejected_403"), ("type", "events/call")),
    }
    assert value(after, "callbridge_signature_failures_total") == 51


async def test_pool_in_use_is_read_at_scrape_time(client: TestClient) -> None:
    """Connections held out of the daemon's pool show in the gauge while they are held.

    (Bounds rather than exact numbers: a background task may borrow one meanwhile.)
    """
    pool = client.app[REPOSITORY].pool
    async with pool.acquire(), pool.acquire():
        assert value(await scrape(client), "callbridge_db_pool_in_use") >= 2
    # The inbox's sweep and the screens' presence may each hold one at the moment of a scrape:
    # the released two are gone from the gauge by the time those are done.
    deadline = asyncio.get_running_loop().time() + 5.0
    while (in_use := value(await scrape(client), "callbridge_db_pool_in_use")) >= 2:
        assert asyncio.get_running_loop().time() < deadline, in_use
        await asyncio.sleep(0.05)


async def test_stored_event_updates_the_last_event_gauge(client: TestClient) -> None:
    assert value(await scrape(client), "callbridge_last_event_timestamp_seconds") == 0
    assert (await post_event(client, "/events/call", APPEARED)).status == 200
    assert value(await scrape(client), "callbridge_last_event_timestamp_seconds") > 0
