"""By manager, a missed call counts against every manager the PBX rang (its legs), not «без менеджера».

The example week (tests/leadkit.py): five missed calls, each hunted through group 300 (extensions
105 and 106 ring, nobody answers), and three calls 105 answered.
"""

from __future__ import annotations

import json

import pytest
from aiohttp.test_utils import TestClient

from config.settings import Settings
from daemon.leads.analytics import analytics
from daemon.leads.rung import analytics_for_people, rung_reference
from daemon.store.queries import q
from daemon.store.repository import Repository
from daemon.store.settle import settle
from tests.conftest import auth, run_cli
from tests.integration.test_leads_analytics import TOTALS, office_hours, week  # noqa: F401
from tests.leadkit import WEEK_SINCE, WEEK_UNTIL


async def test_missed_calls_count_against_the_managers_they_rang(
        settings: Settings, office: Repository, week: dict[str, str]) -> None:  # noqa: F811
    hours = office_hours(settings)
    result = await analytics_for_people(office.pool, since=WEEK_SINCE, until=WEEK_UNTIL, by="manager",
                                        hours=hours)
    rows = {r["key"]: r for r in result.rows}
    counts = {key: (r["inquiries"], r["calls"], r["missed"], r["missed_share"]) for key, r in rows.items()}
    assert counts == {
        "105": (3, 8, 5, 0.625),   # answered 3, and all five missed calls rang him
        "106": (0, 5, 5, 1.0),     # answered none; the same five rang him too
        None: (5, 0, 0, None),     # the missed inquiries have no answering manager, but each rang someone
    }
    assert [r["key"] for r in result.rows] == ["105", "106", None]
    for key in ("105", "106"):
        assert (rows[key]["called_back_15m"], rows[key]["called_back_same_day"]) == (
            TOTALS["called_back_15m"], TOTALS["called_back_same_day"])
    assert result.totals == TOTALS | {"first_answer_p50_s": result.totals["first_answer_p50_s"],
                                      "first_answer_p90_s": result.totals["first_answer_p90_s"]}
    # Any other grouping is the plain analytics.
    plain = await analytics(office.pool, since=WEEK_SINCE, until=WEEK_UNTIL, by="ad_source", hours=hours)
    assert (await analytics_for_people(office.pool, since=WEEK_SINCE, until=WEEK_UNTIL, by="ad_source",
                                       hours=hours)) == plain


async def test_the_query_counts_what_the_legs_say(
        settings: Settings, office: Repository, week: dict[str, str]) -> None:  # noqa: F811
    """The SQL against the Python definition over the stored leg events, read in Python."""
    hours = office_hours(settings)
    pool = office.pool
    await settle(pool)  # the facts of the week's calls, as analytics() settles them before its reads
    inquiries = [dict(r) for r in await pool.fetch(q("analytics_inquiries"), WEEK_SINCE, WEEK_UNTIL)]
    missed = [r for r in inquiries if r["channel"] == "call" and r["status"] == "missed"]
    rang: dict[int, set[str]] = {}
    for row in await pool.fetch("SELECT c.id, i.event::text AS event FROM inbox i"
                                " JOIN communications c ON c.entry_id = i.entry_id WHERE i.kind = 'call_leg'"):
        extension = (json.loads(row["event"]).get("callee") or {}).get("extension")
        if extension:
            rang.setdefault(row["id"], set()).add(extension)
    expected = rung_reference(missed, rang, hours)
    records = await pool.fetch(q("analytics_missed_by_rung_manager"), WEEK_SINCE, WEEK_UNTIL, hours.tz.key, 900.0)
    counted = {r["extension"]: {k: r[k] for k in ("missed", "called_back_15m", "called_back_same_day")}
               for r in records}
    assert counted == expected
    assert set(counted) == {"105", "106"}


@pytest.mark.timeout(120)
async def test_the_table_by_manager_over_http_and_the_cli(
        client: TestClient, settings: Settings, week: dict[str, str]) -> None:  # noqa: F811
    params = {"since": WEEK_SINCE.isoformat(), "until": WEEK_UNTIL.isoformat(), "by": "manager"}
    doc = await (await client.get("/api/analytics", params=params, headers=auth())).json()
    assert [(r["key"], r["missed"]) for r in doc["rows"]] == [("105", 5), ("106", 5), (None, 0)]
    code, out, err = await run_cli(settings, "report", "analytics", "--since", params["since"],
                                   "--until", params["until"], "--by", "manager")
    assert code == 0, err
    assert out.startswith("Аналитика по менеджерам") and "\n106\n  Обращений: 0\n" in out
