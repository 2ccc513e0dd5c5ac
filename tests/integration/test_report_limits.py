"""The missed-call report lists at most ``limit`` rows per list and says how many more there are."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from aiohttp.test_utils import TestClient

from daemon.report import RENDERERS, MissedReport, MissedRow
from daemon.report.limits import ROWS_MAX
from daemon.report.query import ROW_FIELDS
from daemon.report.render import CSV_HEADINGS
from daemon.store.repository import Repository
from tests.conftest import auth
from tests.integration.test_report import MOSCOW, WINDOW

AT = datetime(2025, 10, 9, 9, 0, tzinfo=UTC)


def report_of(callers: int, limit: int) -> MissedReport:
    rows = tuple(MissedRow(f"+7903111{n:04d}", None, None, None, None, 1, AT - timedelta(minutes=n),
                           AT - timedelta(minutes=n), "74951234567", None, False, AT)
                 for n in range(callers))
    return MissedReport(window=WINDOW, tz=MOSCOW, include_called_back=False, rows=rows, limit=limit)


def test_every_format_shows_the_limit_and_counts_the_rest() -> None:
    report = report_of(5, limit=2)
    doc = json.loads(RENDERERS["json"](report))
    assert (len(doc["rows"]), doc["more"], doc["callers"], doc["missed_calls"]) == (2, 3, 5, 5)
    text = RENDERERS["text"](report)
    assert "5 абонентов, 5 пропущенных звонков, перезвонить: 5." in text
    assert text.count("+7 903 111-") == 2 and "… и ещё 3" in text
    table = list(csv.reader(io.StringIO(RENDERERS["csv"](report))))
    assert table[0] == [CSV_HEADINGS[name] for name in ROW_FIELDS] and len(table) == 1 + 2 + 1
    assert table[-1][0] == "… и ещё 3"
    page = RENDERERS["html"](report)
    assert page.count("<tr>") == 1 + 2 and '<p class="more">… и ещё 3</p>' in page


def test_a_report_within_the_limit_says_nothing_more() -> None:
    report = report_of(2, limit=2)
    assert json.loads(RENDERERS["json"](report))["more"] == 0
    assert "и ещё" not in RENDERERS["text"](report) + RENDERERS["csv"](report) + RENDERERS["html"](report)
    assert "и ещё" not in RENDERERS["text"](replace(report, limit=200))


async def test_api_caps_the_unanswered_inquiries_and_refuses_a_bad_limit(
        client: TestClient, repo: Repository) -> None:
    contact = await repo.pool.fetchval("INSERT INTO contacts (name) VALUES ('Анна') RETURNING id")
    await repo.pool.execute(
        "INSERT INTO communications (entry_id, channel, direction, status, contact_id, started_at, text)"
        " SELECT 'form-' || g, 'web_form', 'inbound', 'received', $1, $2::timestamptz + g * interval '1 minute',"
        " 'Хотим тур' FROM generate_series(1, 3) AS g", contact, AT)
    params = {"since": (AT - timedelta(hours=1)).isoformat(), "until": (AT + timedelta(hours=1)).isoformat()}
    doc = await (await client.get("/api/reports/missed", params=params | {"limit": "2"}, headers=auth())).json()
    section = doc["unanswered_inquiries"]
    assert (len(section["rows"]), section["total"], section["more"]) == (2, 3, 1)
    assert [r["communication_id"] for r in section["rows"]] == sorted(r["communication_id"] for r in section["rows"])
    text = await (await client.get("/api/reports/missed", params=params | {"limit": "2", "format": "text"},
                                   headers=auth())).text()
    assert "Обращения без ответа: 3" in text and "… и ещё 1" in text
    doc = await (await client.get("/api/reports/missed", params=params, headers=auth())).json()
    assert (len(doc["unanswered_inquiries"]["rows"]), doc["unanswered_inquiries"]["more"]) == (3, 0)
    for bad in ("0", str(ROWS_MAX + 1), "many", "-1"):
        resp = await client.get("/api/reports/missed", params=params | {"limit": bad}, headers=auth())
        assert resp.status == 400 and "limit" in (await resp.json())["error"]
