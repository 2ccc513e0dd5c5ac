"""Reconciliation against a stand-in PBX statistics API (a real aiohttp server on 127.0.0.1).

The stand-in checks our signature like the PBX does, answers stats/request
with a key, and stats/result with 204 (not ready) first and then the CSV of
tests/fixtures/stats_reconcile.json.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from adapters.mango.signature import verify
from adapters.mango.stats import STATS_FIELDS, StatsClient, StatsError, parse_stats_csv
from config.settings import Settings
from daemon.calls.reconcile import apply_stats, call_finished, reconcile
from daemon.intake.pipeline import Pipeline
from daemon.report.window import Window
from daemon.store.repository import Repository
from tests.conftest import API_KEY, API_SALT, API_TOKEN, after_database_line, fixture_json, run_cli
from tests.scenarios import replay, steps

STATS = fixture_json("stats_reconcile.json")
EXPECT = STATS["expect"]
KNOWN = "MTI4OTY2MjMzMTk="
WINDOW = Window(
    since=datetime.fromtimestamp(STATS["request"]["date_from"], UTC),
    until=datetime.fromtimestamp(STATS["request"]["date_to"], UTC),
)
POLL_S = 0.05


@dataclass
class StandInPbx:
    """What the PBX's statistics API does, as far as we rely on it."""

    csv: str = STATS["response_csv"]
    not_ready_polls: int = 1
    result_status: int | None = None  # force an answer to stats/result (e.g. 404)
    requests: list[dict[str, Any]] = field(default_factory=list)
    polls: list[float] = field(default_factory=list)
    refused: int = 0
    url: str = ""

    async def _signed_json(self, request: web.Request) -> dict[str, Any] | None:
        form = await request.post()
        key, sign, body = (str(form.get(n, "")) for n in ("vpbx_api_key", "sign", "json"))
        if not verify(
            api_key=API_KEY, api_salt=API_SALT, sent_key=key, json_text=body, sent_sign=sign
        ):
            self.refused += 1
            return None
        return json.loads(body)

    async def stats_request(self, request: web.Request) -> web.Response:
        payload = await self._signed_json(request)
        if payload is None:
            return web.json_response({"result": 3102}, status=401)
        self.requests.append(payload)
        return web.json_response({"key": f"stats-key-{len(self.requests)}"})

    async def stats_result(self, request: web.Request) -> web.Response:
        payload = await self._signed_json(request)
        if payload is None:
            return web.json_response({"result": 3102}, status=401)
        assert payload == {"key": f"stats-key-{len(self.requests)}"}
        self.polls.append(asyncio.get_running_loop().time())
        if self.result_status is not None:
            return web.Response(status=self.result_status)
        if len(self.polls) <= self.not_ready_polls:
            return web.Response(status=204)
        return web.Response(text=self.csv, content_type="text/csv")


@pytest.fixture
async def pbx() -> AsyncIterator[StandInPbx]:
    stand_in = StandInPbx()
    app = web.Application()
    app.router.add_post("/vpbx/stats/request", stand_in.stats_request)
    app.router.add_post("/vpbx/stats/result", stand_in.stats_result)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    stand_in.url = f"http://127.0.0.1:{port}/vpbx/"
    yield stand_in
    await runner.cleanup()


@pytest.fixture
async def stats(pbx: StandInPbx) -> AsyncIterator[StatsClient]:
    async with aiohttp.ClientSession() as session:
        yield StatsClient(
            session,
            base_url=pbx.url,
            api_key=API_KEY,
            api_salt=API_SALT,
            timeout_s=5,
            poll_interval_s=POLL_S,
            max_wait_s=2,
        )


@pytest.fixture
def pipeline(office: Repository) -> Pipeline:
    return Pipeline(office, region="RU")


async def communication(repo: Repository, entry_id: str) -> dict[str, Any] | None:
    row = await repo.pool.fetchrow("SELECT * FROM communications WHERE entry_id = $1", entry_id)
    return dict(row) if row else None


async def test_undelivered_call_is_created_once_and_a_known_one_left_alone(
    client: TestClient, office: Repository, pipeline: Pipeline, stats: StatsClient, pbx: StandInPbx
) -> None:
    await replay(client, steps("answered_incoming.json"))
    known_before = await communication(office, KNOWN)

    first = await reconcile(pipeline, stats, WINDOW)
    assert (first.calls, first.created, first.completed, first.known) == (
        2,
        [EXPECT["created_entry_id"]],
        [],
        1,
    )
    created = await communication(office, EXPECT["created_entry_id"])
    assert created is not None
    assert (created["status"], created["phone"], created["direction"]) == (
        EXPECT["created_status"],
        EXPECT["created_phone"],
        "inbound",
    )
    assert (created["reconciled"], created["manager_extension"], created["line_number"]) == (
        True,
        None,
        "74951234567",
    )
    assert created["ad_source"] == "Яндекс.Директ"
    assert await communication(office, KNOWN) == known_before  # not touched, not duplicated

    second = await reconcile(pipeline, stats, WINDOW)
    assert (len(second.created), second.known) == (EXPECT["second_run_created"], 2)
    counts = await office.pool.fetchrow(
        "SELECT count(*) AS comms, count(*) FILTER (WHERE entry_id = $1) AS created"
        " FROM communications",
        EXPECT["created_entry_id"],
    )
    assert (counts["comms"], counts["created"]) == (2, 1)
    inbox = await office.pool.fetch(
        "SELECT source, path, raw FROM inbox WHERE kind = 'call_finished' ORDER BY id"
    )
    assert [(r["source"], r["path"]) for r in inbox] == [
        ("mango", "events/summary"),
        ("mango", "reconcile"),
    ]
    assert inbox[1]["raw"] == STATS["response_csv"].splitlines()[1]


async def test_the_request_is_signed_asks_the_window_and_polls_politely(
    office: Repository, pipeline: Pipeline, stats: StatsClient, pbx: StandInPbx
) -> None:
    pbx.not_ready_polls = 3
    await reconcile(pipeline, stats, WINDOW)
    assert pbx.requests == [STATS["request"]]
    assert pbx.refused == 0
    assert len(pbx.polls) == 4
    gaps = [b - a for a, b in zip(pbx.polls, pbx.polls[1:], strict=False)]
    assert min(gaps) >= POLL_S * 0.9


async def test_missed_call_from_stats_reaches_the_report(
    office: Repository, pipeline: Pipeline, stats: StatsClient
) -> None:
    """The point of reconciling: the morning report is complete after an outage."""
    await reconcile(pipeline, stats, WINDOW)
    rows = await office.missed_callers(since=WINDOW.since, until=WINDOW.until)
    assert [(r["phone"], r["missed_calls"]) for r in rows] == [(EXPECT["created_phone"], 1)]


async def test_a_call_whose_summary_was_lost_is_completed(
    client: TestClient, office: Repository, pipeline: Pipeline, stats: StatsClient
) -> None:
    await replay(
        client, [s for s in steps("answered_incoming.json") if s.path != "/events/summary"]
    )
    report = await reconcile(pipeline, stats, WINDOW)
    assert report.completed == [KNOWN]
    row = await communication(office, KNOWN)
    assert row is not None
    assert (row["finished"], row["status"], row["manager_extension"], row["talk_seconds"]) == (
        True,
        "answered",
        "105",
        185,
    )
    assert (
        row["reconciled"] is False
    )  # its own legs were delivered; only the summary came from stats


async def test_unreadable_lines_are_named_and_the_rest_applied(
    office: Repository, pipeline: Pipeline
) -> None:
    good = STATS["response_csv"].splitlines()[1]
    text = f"{good}\nthis;is;not;a;row\n[];x;1;0;;7903;;;;;ivr;E2\n\n"
    report = await apply_stats(pipeline, text)
    assert report.created == [EXPECT["created_entry_id"]]
    assert [(b.line_no, b.problem) for b in report.bad_lines] == [
        (2, "expected 12 fields separated by ';', got 5"),
        (3, "start is not a number: 'x'"),
    ]
    assert not report.ok
    assert any("строка 2 пропущена" in line for line in report.lines())


def test_rows_of_one_call_fold_into_one_summary() -> None:
    """Several statistics rows with one entry_id (a call rung to two managers) are one call."""
    text = (
        "[];100;130;0;;79031112233;105;;1110;74951234567;abonent;E1\n"
        "[R1];100;190;112;;79031112233;106;;1110;74951234567;abonent;E1\n"
        "[];500;530;505;105;sip:a@x;;79161234567;1120;74951234567;abonent;E2\n"
        "[];600;610;601;105;;101;;1120;;abonent;E3\n"
    )
    rows, bad = parse_stats_csv(text)
    assert bad == []
    e1 = call_finished([r for r in rows if r.entry_id == "E1"])
    assert (e1.direction, e1.talked, e1.answered_at, e1.ended_at, e1.callee.extension) == (
        "inbound",
        True,
        112,
        190,
        "106",
    )
    assert (e1.recording_ids, e1.reconciled) == (("R1",), True)
    assert call_finished([r for r in rows if r.entry_id == "E2"]).direction == "outbound"
    assert call_finished([r for r in rows if r.entry_id == "E3"]).direction == "internal"
    assert len(STATS_FIELDS) == len(STATS["request"]["fields"].split(","))


async def test_expired_key_and_a_report_that_never_comes_are_clear_errors(
    office: Repository, pipeline: Pipeline, stats: StatsClient, pbx: StandInPbx
) -> None:
    pbx.result_status = 404
    with pytest.raises(StatsError, match="unknown or expired"):
        await reconcile(pipeline, stats, WINDOW)
    pbx.result_status = 204
    with pytest.raises(StatsError, match="not ready after"):
        await reconcile(pipeline, stats, WINDOW)
    assert await office.pool.fetchval("SELECT count(*) FROM communications") == 0


async def test_a_wrong_salt_is_refused_by_the_pbx(pbx: StandInPbx) -> None:
    async with aiohttp.ClientSession() as session:
        wrong = StatsClient(
            session,
            base_url=pbx.url,
            api_key=API_KEY,
            api_salt="not-the-salt",
            timeout_s=5,
            poll_interval_s=POLL_S,
        )
        with pytest.raises(StatsError, match="HTTP 401"):
            await wrong.fetch(STATS["request"]["date_from"], STATS["request"]["date_to"])
    assert pbx.refused == 1


async def _cli(settings: Settings, pbx: StandInPbx, *args: str) -> tuple[int, str, str]:
    return await run_cli(settings, "reconcile", *args, extra_env={
        "CALLBRIDGE_MANGO_API_URL": pbx.url,
        "CALLBRIDGE_PBX_STATS_POLL_INTERVAL_S": str(POLL_S),
    })


async def test_cli_reconcile_twice(
    client: TestClient, office: Repository, settings: Settings, pbx: StandInPbx
) -> None:
    """`callbridge reconcile --since --until` in office time asks exactly the fixture's window."""
    await replay(client, steps("answered_incoming.json"))
    window = ("--since", "2025-10-09", "--until", "2025-10-10")
    code, out, err = await _cli(settings, pbx, *window)
    assert code == 0, err
    assert after_database_line(out).splitlines()[0] == (
        "сверено звонков по статистике АТС: 2; создано 1, дополнено 0, уже известны 1"
    )
    assert f"создан {EXPECT['created_entry_id']}" in out
    pbx.polls.clear()
    code, out, err = await _cli(settings, pbx, *window)
    assert code == 0, err
    assert "создано 0, дополнено 0, уже известны 2" in out
    assert pbx.requests == [STATS["request"], STATS["request"]]
    for secret in (API_KEY, API_SALT, API_TOKEN):
        assert secret not in out + err


async def _final(repo: Repository) -> dict[str, Any]:
    from tests.scenarios import final_state

    return await final_state(repo)


async def test_a_live_summary_after_a_reconcile_is_stored_and_wins(
    client: TestClient, office: Repository, pipeline: Pipeline, stats: StatsClient
) -> None:
    """Reconcile first (the webhooks were late), then the live call: the PBX's own summary wins."""
    await reconcile(pipeline, stats, WINDOW)
    before = await communication(office, KNOWN)
    assert before is not None and before["reconciled"] is True
    summary = next(s for s in steps("answered_incoming.json") if s.path == "/events/summary")
    from tests.conftest import post_event

    resp = await post_event(client, summary.path, summary.json)
    assert (resp.status, await resp.json()) == (200, {"result": "stored"})
    after = await communication(office, KNOWN)
    assert after is not None
    assert (after["reconciled"], after["talk_seconds"], after["manager_extension"]) == (False, 185, "105")


async def test_reconcile_then_live_equals_live_then_reconcile(
    client: TestClient, office: Repository, pipeline: Pipeline, stats: StatsClient, db_reset
) -> None:
    """Either order of the statistics and the live events leaves the same office."""
    live = steps("answered_incoming.json")
    await replay(client, live)
    await reconcile(pipeline, stats, WINDOW)
    live_first = await _final(office)
    await db_reset()
    await reconcile(pipeline, stats, WINDOW)
    await replay(client, live)
    reconcile_first = await _final(office)
    assert reconcile_first == live_first
    known = [c for c in live_first["communications"] if c["entry_id"] == KNOWN]
    assert [(c["reconciled"], c["status"], c["talk_seconds"]) for c in known] == [(False, "answered", 185)]
