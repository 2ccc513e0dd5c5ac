"""The inbox's retention: old raw events of finished calls go, derived rows stay and never get worse."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from config.settings import Settings
from daemon.store.repository import Repository
from daemon.store.retention import prune_inbox
from tests.conftest import after_database_line, post_event, run_cli
from tests.scenarios import replay, steps

ANSWERED = "MTI4OTY2MjMzMTk="  # answered_incoming.json
MISSED = "NTAwOTQxMTAyMg=="  # missed_incoming.json
CUTOFF = datetime.now(UTC) - timedelta(days=180)


async def _age(repo: Repository, entry_id: str | None, days: int) -> None:
    """Make the call's events (or events of no call) look ``days`` old."""
    if entry_id is None:
        await repo.pool.execute(
            "UPDATE inbox SET received_at = now() - make_interval(days => $1) WHERE entry_id IS NULL", days)
    else:
        await repo.pool.execute(
            "UPDATE inbox SET received_at = now() - make_interval(days => $2) WHERE entry_id = $1", entry_id, days)


async def _comm(repo: Repository, entry_id: str) -> dict[str, Any]:
    row = dict(await repo.pool.fetchrow("SELECT * FROM communications WHERE entry_id = $1", entry_id))
    row.pop("updated_at")
    return row


async def _events(repo: Repository, entry_id: str) -> int:
    return await repo.pool.fetchval("SELECT count(*) FROM inbox WHERE entry_id = $1", entry_id)


async def test_old_finished_calls_lose_their_raw_events_and_keep_their_rows(
    client: TestClient, office: Repository
) -> None:
    await replay(client, steps("answered_incoming.json") + steps("missed_incoming.json"))
    await post_event(client, "/result/route", {"command_id": "old-route", "result": 1000})
    answered_before = await _comm(office, ANSWERED)
    await _age(office, ANSWERED, 200)
    await _age(office, None, 200)
    report = await prune_inbox(office.pool, cutoff=CUTOFF, batch=3)
    assert (report.calls, report.batches > 1) == (1, True)
    assert await _events(office, ANSWERED) == 0
    assert await _events(office, MISSED) > 0  # recent: kept
    assert await office.pool.fetchval("SELECT count(*) FROM inbox WHERE entry_id IS NULL") == 0
    assert await _comm(office, ANSWERED) == answered_before
    assert await office.pool.fetchval("SELECT count(*) FROM pruned_calls") == 1
    again = await prune_inbox(office.pool, cutoff=CUTOFF, batch=3)
    assert (again.events, again.calls) == (0, 0)


async def test_a_call_not_over_or_with_a_recent_event_is_kept_whole(client: TestClient, office: Repository) -> None:
    ringing = [s for s in steps("answered_incoming.json") if s.path == "/events/call"][:3]
    await replay(client, ringing)
    await replay(client, steps("missed_incoming.json"))
    await _age(office, ANSWERED, 200)  # old, but the call never finished
    await office.pool.execute(  # one old event and the rest recent: not pruned piecemeal
        "UPDATE inbox SET received_at = now() - interval '200 days'"
        " WHERE id = (SELECT min(id) FROM inbox WHERE entry_id = $1)", MISSED)
    report = await prune_inbox(office.pool, cutoff=CUTOFF, batch=100)
    assert (report.events, report.calls) == (0, 0)
    assert await _events(office, ANSWERED) == 3


async def test_an_event_of_a_pruned_call_is_stored_but_does_not_make_the_row_worse(
    client: TestClient, office: Repository
) -> None:
    """Re-derived from one event, an answered call would lose its manager, legs and recording."""
    answered = steps("answered_incoming.json")
    await replay(client, answered)
    before = await _comm(office, ANSWERED)
    await _age(office, ANSWERED, 200)
    await prune_inbox(office.pool, cutoff=CUTOFF, batch=100)
    late = next(s for s in answered if s.path == "/events/call")  # the PBX delivers it once more
    resp = await post_event(client, late.path, late.json)
    assert (resp.status, await resp.json()) == (200, {"result": "stored"})
    assert await _events(office, ANSWERED) == 1
    assert await _comm(office, ANSWERED) == before


async def test_cli_prune_uses_the_retention_setting_or_the_option(
    client: TestClient, office: Repository, settings: Settings
) -> None:
    await replay(client, steps("answered_incoming.json"))
    await _age(office, ANSWERED, 40)
    code, out, err = await run_cli(settings, "prune")
    assert (code, after_database_line(out).split(" (")[0]) == (0, "удалено сырых событий АТС: 0"), err
    code, out, err = await run_cli(settings, "prune", "--older-than-days", "30")
    assert code == 0, err
    assert after_database_line(out).startswith("удалено сырых событий АТС: ") and "(завершённых звонков: 1)" in out and "сохранены" in out
    assert await _events(office, ANSWERED) == 0
    code, _, err = await run_cli(settings, "prune", "--older-than-days", "0")
    assert code == 2 and "at least 1" in err
