"""Reminders as tasks: birthdays, «Как съездили?», the next season; once each, never for do-not-call."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

from aiohttp.test_utils import TestClient

from config.settings import Settings
from daemon.leads.nightly import run_once_today
from daemon.leads.reminders import refresh_tasks
from daemon.store.repository import Repository
from tests.conftest import auth, run_cli
from tests.funnelkit import contact, trip

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # 12:00 in Moscow, 7 December
TODAY = date(2026, 12, 7)


async def test_each_reminder_once_to_the_responsible_manager(settings: Settings, office: Repository) -> None:
    pool = office.pool
    anna = await contact(pool, "Анна", phone="+79260006001", birthday=date(1980, 12, 9), responsible="105")
    await contact(pool, "Не звонить", phone="+79260006002", birthday=date(1980, 12, 9), do_not_call=True)
    await contact(pool, "Рано", phone="+79260006003", birthday=date(1980, 12, 20), responsible="105")
    oleg = await contact(pool, "Олег", phone="+79260006004")
    back = await trip(pool, "O-1", oleg, date(2026, 11, 25), ends=TODAY - timedelta(days=2), manager="106")
    await trip(pool, "O-2", oleg, date(2026, 11, 20), ends=TODAY - timedelta(days=3), status="cancelled")
    await trip(pool, "O-old", oleg, date(2025, 1, 2), ends=date(2025, 1, 12), manager="106")  # long over
    irina = await contact(pool, "Ирина", phone="+79260006005", responsible="106")
    season = await trip(pool, "I-1", irina, date(2025, 1, 20), ends=date(2025, 1, 30))  # 44 days to go

    report = await refresh_tasks(pool, settings, now=NOW)
    assert report.added == {"birthday": 1, "after_trip": 1, "next_season": 1}
    rows = await pool.fetch("SELECT kind, contact_id, trip_id, extension, title, due_at FROM tasks ORDER BY kind")
    by_kind = {r["kind"]: r for r in rows}
    assert (by_kind["birthday"]["contact_id"], by_kind["birthday"]["extension"]) == (anna, "105")
    assert by_kind["birthday"]["title"] == "День рождения 09.12: поздравить"
    assert by_kind["birthday"]["due_at"] == datetime(2026, 12, 6, 7, 0, tzinfo=UTC)  # 10:00 MSK, 3 days ahead
    assert (by_kind["after_trip"]["trip_id"], by_kind["after_trip"]["extension"]) == (back, "106")
    assert by_kind["after_trip"]["title"] == "Как съездили?"
    assert (by_kind["next_season"]["trip_id"], by_kind["next_season"]["extension"]) == (season, "106")

    assert (await refresh_tasks(pool, settings, now=NOW)).added == {}  # a second run changes nothing
    assert (await refresh_tasks(pool, settings, now=NOW + timedelta(days=1))).added == {}
    assert await pool.fetchval("SELECT count(*) FROM tasks") == 3


async def test_tasks_are_listed_per_manager_and_closed(
        client: TestClient, settings: Settings, office: Repository) -> None:
    pool = office.pool
    await contact(pool, "Анна", phone="+79260006001", birthday=date(1980, 12, 9), responsible="105")
    await refresh_tasks(pool, settings, now=NOW)
    listed = await (await client.get("/api/tasks", headers=auth(), params={"extension": "105"})).json()
    assert [(t["kind"], t["task_kind"], t["contact_name"]) for t in listed] == [("task", "birthday", "Анна")]
    assert listed[0]["due_at"] and listed[0]["contact_id"] and listed[0]["extension"] == "105"
    assert await (await client.get("/api/tasks", headers=auth(), params={"extension": "106"})).json() == []

    task_id = listed[0]["id"]
    done = await client.post(f"/api/tasks/{task_id}/done", headers=auth(), json={"extension": "105"})
    assert done.status == 200 and (await done.json())["done_by"] == "105"
    again = await client.post(f"/api/tasks/{task_id}/done", headers=auth())
    assert (await again.json())["done_at"] == (await done.json())["done_at"]
    assert await (await client.get("/api/tasks", headers=auth(), params={"extension": "105"})).json() == []
    assert (await client.post("/api/tasks/999999/done", headers=auth())).status == 404


async def test_the_command_changes_nothing_on_a_second_run(settings: Settings, office: Repository) -> None:
    today = datetime.now(UTC).astimezone(settings.tz).date()
    # 1980 is a leap year: any today has its day then.
    await contact(office.pool, "Анна", phone="+79260006001", birthday=today.replace(year=1980) + timedelta(days=1),
                  responsible="105")
    code, out, err = await run_cli(settings, "tasks", "refresh")
    assert code == 0, err
    assert "tasks refreshed: 1 added (birthday 1" in out
    code, out, err = await run_cli(settings, "tasks", "refresh")
    assert "tasks refreshed: 0 added" in out


async def test_two_daemons_run_the_nightly_jobs_once(settings: Settings, office: Repository) -> None:
    pool = office.pool
    await contact(pool, "Анна", phone="+79260006001", birthday=date(1980, 12, 9), responsible="105")
    night = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # 04:00 in Moscow: after nightly_at 03:30
    ran = await asyncio.gather(run_once_today(pool, settings, now=night), run_once_today(pool, settings, now=night))
    assert sorted(ran) == [False, True]
    assert await pool.fetchval("SELECT count(*) FROM tasks") == 1
    assert await pool.fetchval("SELECT count(*) FROM contacts c WHERE NOT EXISTS ("
                               "SELECT 1 FROM contact_profiles p WHERE p.contact_id = c.id)") == 0
    assert not await run_once_today(pool, settings, now=night + timedelta(hours=5))  # the same day
    early = datetime(2026, 12, 7, 23, 0, tzinfo=UTC)  # 02:00 on the 8th in Moscow: not yet
    assert not await run_once_today(pool, settings, now=early)
    assert await run_once_today(pool, settings, now=early + timedelta(hours=2))
