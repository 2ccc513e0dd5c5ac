"""GET /health and `callbridge check`: true about the database, quick, and never a secret."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from config.settings import Settings, SourceSettings, load_settings
from daemon.runtime.app import build_app
from daemon.runtime.health import HEALTH_CONTENT_TYPE, overall_status, redact, secrets_of
from daemon.runtime.keys import METRICS, REPOSITORY
from daemon.store import migrate
from tests.conftest import API_KEY, API_SALT, API_TOKEN, fixture_json, post_event
from tests.pgproxy import PgProxy
from tests.support.paths import REPO

DB_PASSWORD = "pg-secret-" + "q" * 12
# How long /health may take to notice: the point is "seconds, not minutes", and a
# generous bound keeps a loaded CI machine from failing it.
NOTICE_WITHIN_S = 15.0
APPEARED = fixture_json("answered_incoming.json")["steps"][0]["json"]


def proxied_settings(proxy: PgProxy, tmp_path: Path, **extra: str) -> Settings:
    return load_settings(
        {
            "CALLBRIDGE_DATABASE_URL": proxy.url(password=DB_PASSWORD),
            "CALLBRIDGE_MANGO_API_KEY": API_KEY,
            "CALLBRIDGE_MANGO_API_SALT": API_SALT,
            "CALLBRIDGE_API_TOKEN": API_TOKEN,
            "CALLBRIDGE_STATE_DIR": str(tmp_path / "state"),
            "CALLBRIDGE_DB_CONNECT_ATTEMPTS": "2",
            "CALLBRIDGE_DB_POOL_MIN": "1",
            **{f"CALLBRIDGE_{k.upper()}": v for k, v in extra.items()},
        }
    )


@pytest.fixture
async def proxy(db_url: str) -> AsyncIterator[PgProxy]:
    proxy = PgProxy(db_url)
    await proxy.open()
    yield proxy
    await proxy.close()


async def serve(settings: Settings) -> AsyncIterator[TestClient]:
    app = build_app(settings, database_url=settings.database.url or "", apply_migrations=False)
    async with TestClient(TestServer(app)) as client:
        yield client


async def health(client: TestClient) -> tuple[int, dict[str, Any], str]:
    resp = await client.get("/health")
    text = await resp.text()
    assert resp.content_type == HEALTH_CONTENT_TYPE
    return resp.status, json.loads(text), text


async def health_becomes(client: TestClient, wanted: str) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + NOTICE_WITHIN_S
    while True:
        status, doc, _ = await health(client)
        if doc["status"] == wanted:
            assert status == (503 if wanted == "fail" else 200)
            return doc
        if loop.time() > deadline:
            pytest.fail(f"/health did not become {wanted} within {NOTICE_WITHIN_S} s: {doc}")
        await asyncio.sleep(0.1)


def check(doc: dict[str, Any], name: str) -> dict[str, Any]:
    (entry,) = doc["checks"][name]
    return entry


async def test_health_passes_and_describes_each_part(client: TestClient) -> None:
    """pass/200 in the IETF draft's shape, with every check docs/OPERATIONS.md names; no token needed."""
    status, doc, _ = await health(client)
    assert (status, doc["status"], doc["serviceId"]) == (200, "pass", "callbridge")
    assert set(doc["checks"]) == {
        "postgresql:responseTime",
        "postgresql:schemaVersion",
        "pbx:lastEventAge",
        "spool:backlog",
        "spool:quarantine",
        "tasks:restarts",
        "settle:oldestAge",
        "pbx:lastApiResult",
    }
    rtt = check(doc, "postgresql:responseTime")
    assert (rtt["status"], rtt["observedUnit"], rtt["componentType"]) == ("pass", "ms", "datastore")
    assert rtt["observedValue"] >= 0
    assert check(doc, "postgresql:schemaVersion")["observedValue"] == migrate.latest_version()
    assert "observedValue" not in check(doc, "pbx:lastEventAge")  # nothing received yet
    assert check(doc, "spool:backlog")["observedValue"] == 0


async def test_summaries_left_unsettled_for_a_minute_are_a_warning(client: TestClient) -> None:
    pool = client.app[REPOSITORY].pool
    assert check((await health(client))[1], "settle:oldestAge")["status"] == "pass"
    await pool.execute("INSERT INTO settle_pending (what, id, noted_at) VALUES ('facts', 1, now() - interval '5 minutes')")
    status, doc, _ = await health(client)
    entry = check(doc, "settle:oldestAge")
    assert (status, doc["status"], entry["status"], entry["observedUnit"]) == (200, "warn", "warn", "s")
    assert entry["observedValue"] >= 300 and "settle task" in entry["output"]
    await pool.execute("DELETE FROM settle_pending")
    assert (await health(client))[1]["status"] == "pass"


async def test_last_event_age_follows_the_pbx(client: TestClient) -> None:
    assert (await post_event(client, "/events/call", APPEARED)).status == 200
    _, doc, _ = await health(client)
    age = check(doc, "pbx:lastEventAge")
    assert age["observedUnit"] == "s" and 0 <= age["observedValue"] < 60


async def test_a_failing_pbx_api_is_a_warning(client: TestClient) -> None:
    client.app[METRICS].pbx_api_result("commands/route", "unreachable")
    status, doc, _ = await health(client)
    assert (status, doc["status"]) == (200, "warn")
    assert check(doc, "pbx:lastApiResult")["status"] == "warn"
    client.app[METRICS].pbx_api_result("commands/route", "success")
    assert (await health(client))[1]["status"] == "pass"


async def test_database_loss_is_fail_within_seconds_and_pass_when_it_returns(
    proxy: PgProxy, tmp_path: Path
) -> None:
    """No spool: PostgreSQL gone means events cannot be kept, so 503; back without a restart."""
    settings = proxied_settings(proxy, tmp_path, spool_enabled="false")
    async for client in serve(settings):
        await health_becomes(client, "pass")
        await proxy.close()
        doc = await health_becomes(client, "fail")
        assert check(doc, "postgresql:responseTime")["status"] == "fail"
        assert "cannot be stored" in doc["output"]
        await proxy.open()
        await health_becomes(client, "pass")


async def test_database_loss_with_a_spool_is_warn(proxy: PgProxy, tmp_path: Path) -> None:
    """With a writable spool events are still kept: warn/200, and the PostgreSQL check says fail."""
    settings = proxied_settings(proxy, tmp_path)
    async for client in serve(settings):
        await health_becomes(client, "pass")
        await proxy.close()
        doc = await health_becomes(client, "warn")
        assert check(doc, "postgresql:responseTime")["status"] == "fail"
        assert check(doc, "spool:backlog")["status"] == "pass"
        assert "spool" in doc["output"]
        await proxy.open()
        await health_becomes(client, "pass")


async def test_health_never_shows_a_secret(proxy: PgProxy, tmp_path: Path) -> None:
    settings = proxied_settings(proxy, tmp_path, spool_enabled="false")
    async for client in serve(settings):
        texts = [(await health(client))[2]]
        await proxy.close()
        await health_becomes(client, "fail")
        texts.append((await health(client))[2])
    for text in texts:
        for secret in (API_KEY, API_SALT, API_TOKEN, DB_PASSWORD):
            assert secret not in text


@pytest.mark.parametrize(
    ("database_ok", "spool", "others", "expected"),
    [
        (True, None, [], "pass"),
        (True, True, ["pass", "pass"], "pass"),
        (True, True, ["warn"], "warn"),
        (True, False, ["fail"], "warn"),  # spool broken, database fine: degraded, still durable
        (False, True, [], "warn"),  # spooling: keep sending, but alert
        (False, False, [], "fail"),  # neither can keep an event
        (False, None, ["pass"], "fail"),  # no spool at all
    ],
)
def test_overall_status_rule(
    database_ok: bool, spool: bool | None, others: list[str], expected: str
) -> None:
    assert overall_status(database_ok=database_ok, spool_accepting=spool, others=others) == expected


def test_redact_hides_every_configured_secret(settings: Settings) -> None:
    secrets = secrets_of(settings)
    text = f"key={API_KEY} salt={API_SALT} token={API_TOKEN}"
    assert redact(text, secrets) == "key=[redacted] salt=[redacted] token=[redacted]"


def test_secrets_are_found_wherever_they_sit_in_the_settings(settings: Settings) -> None:
    """Not only the top-level key, salt and token: each source's secret and IMAP password, SMTP's."""
    sources = {"site": SourceSettings(kind="form", secret=SecretStr("form-secret-1")),
               "mail": SourceSettings(kind="email", imap_host="imap.example", username="desk",
                                      password=SecretStr("imap-pass-2"))}
    full = settings.model_copy(update={"sources": sources, "smtp_password": SecretStr("smtp-pass-3")})
    found = secrets_of(full)
    assert {"form-secret-1", "imap-pass-2", "smtp-pass-3", API_KEY, API_SALT, API_TOKEN} <= set(found)


async def _check_command(url: str) -> tuple[int, dict[str, Any]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "daemon.cli",
        "check",
        "--url",
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin", "CALLBRIDGE_LOG_FORMAT": "json"},
        cwd=REPO,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return proc.returncode, json.loads(out)


async def test_check_command_prints_health_and_exits_non_zero_on_fail(
    proxy: PgProxy, tmp_path: Path
) -> None:
    settings = proxied_settings(proxy, tmp_path, spool_enabled="false")
    async for client in serve(settings):
        url = str(client.make_url("/health"))
        code, doc = await _check_command(url)
        assert (code, doc["status"]) == (0, "pass")
        await proxy.close()
        await health_becomes(client, "fail")
        code, doc = await _check_command(url)
        assert (code, doc["status"]) == (1, "fail")
        await proxy.open()


async def test_check_command_fails_when_no_daemon_answers() -> None:
    code, doc = await _check_command("http://127.0.0.1:9/health")
    assert (code, doc["status"]) == (1, "fail")
    assert "no health answer" in doc["output"]
