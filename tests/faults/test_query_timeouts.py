"""A query that runs out of time is a timeout, said as one: not an outage, not a 500.

Real timeouts of a real PostgreSQL: another session holds the tables a route
reads (ACCESS EXCLUSIVE), and the route's statement is stopped either by
asyncpg's command timeout (``db_command_timeout_s``) or by PostgreSQL's own
``statement_timeout``. Every route answers 503 ``{"error": "query timeout",
"after_s": N}`` with ``Retry-After``, the log names the query, and a CLI
command prints the same in one line and exits non-zero.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from config.settings import Settings, load_settings
from daemon.domain.errors import StorageTimeout, StorageUnavailable
from daemon.runtime.app import build_app
from daemon.store.database import is_query_timeout, translate
from daemon.store.repository import Repository
from tests.conftest import API_KEY, API_SALT, API_TOKEN, auth, run_cli

LOCKED_TABLES = ("contacts, communications, leads, contact_merges, contact_duplicate_candidates,"
                 " inquiry_facts")  # analytics read only the last
TIMEOUT_S = "0.5"
ROUTES = [
    ("GET", "/api/contacts/1", None, "contact_card_by_id"),
    ("POST", "/api/contacts/merge", {"survivor_id": 1, "merged_ids": [2]}, None),  # in_transaction: was a 500
    ("PUT", "/api/contacts/1/do-not-call", {"reason": "просил не звонить"}, None),
    ("GET", "/api/contacts/1/referrals", None, "contact_exists"),
    ("GET", "/api/leads?contact_id=1", None, None),
    ("GET", "/api/communications?contact_id=1", None, None),
    ("GET", "/api/contacts/lookup?phone=%2B79161234567", None, None),
    ("PUT", "/api/contacts/1/name", {"name": "Анна"}, None),
    ("PUT", "/api/communications/1/note", {"note": "перезвонить"}, None),
    ("DELETE", "/api/contacts/1/tags/VIP", None, None),
    ("GET", "/api/leads?status=open", None, None),
    ("POST", "/api/contacts/1/tags", {"tag": "VIP"}, None),
    ("GET", "/api/contacts/duplicates", None, None),
    ("GET", "/api/merges", None, None),
    ("GET", "/api/reports/missed", None, None),
    ("GET", "/api/reports/lost-clients", None, None),
    ("GET", "/api/analytics", None, None),
    ("GET", "/api/analytics/charts", None, None),
]


def _settings(db_url: str, tmp_path: Path, **env: str) -> Settings:
    return load_settings({
        "CALLBRIDGE_DATABASE_URL": db_url, "CALLBRIDGE_MANGO_API_KEY": API_KEY,
        "CALLBRIDGE_MANGO_API_SALT": API_SALT, "CALLBRIDGE_API_TOKEN": API_TOKEN,
        "CALLBRIDGE_STATE_DIR": str(tmp_path / "state"), "CALLBRIDGE_MANGO_API_URL": "http://127.0.0.1:9/vpbx/",
        **env,
    })


@asynccontextmanager
async def tables_held(db_url: str) -> AsyncIterator[None]:
    """Another session holds the tables every route above reads, until the block ends."""
    conn = await asyncpg.connect(db_url)
    try:
        async with conn.transaction():
            await conn.execute(f"LOCK TABLE {LOCKED_TABLES} IN ACCESS EXCLUSIVE MODE")
            yield
    finally:
        await conn.close()


@pytest.fixture(params=["command_timeout", "statement_timeout"])
async def slow_client(request: pytest.FixtureRequest, db_url: str, repo: Repository,
                      tmp_path: Path) -> AsyncIterator[TestClient]:
    """The app, whose statements are stopped after half a second by asyncpg or by PostgreSQL."""
    await repo.pool.execute("INSERT INTO contacts (id, name) VALUES (1, 'Анна'), (2, 'Анна С.')")
    if request.param == "command_timeout":
        settings = _settings(db_url, tmp_path, CALLBRIDGE_DB_COMMAND_TIMEOUT_S=TIMEOUT_S)
    else:
        database = db_url.rsplit("/", 1)[1]
        await repo.pool.execute(f"ALTER DATABASE \"{database}\" SET statement_timeout = '{TIMEOUT_S}s'")
        settings = _settings(db_url, tmp_path)
    app = build_app(settings, database_url=db_url, apply_migrations=False)
    async with TestClient(TestServer(app)) as client:
        yield client


@pytest.mark.parametrize(("method", "url", "body", "query"), ROUTES)
async def test_a_query_out_of_time_is_a_503_that_says_so(
        slow_client: TestClient, db_url: str, boundary_log: list[dict[str, Any]],
        method: str, url: str, body: dict[str, object] | None, query: str | None) -> None:
    async with tables_held(db_url):
        resp = await slow_client.request(method, url, json=body, headers=auth())
        answer = await resp.json()
    assert resp.status == 503, answer
    assert answer["error"] == "query timeout" and answer["after_s"] >= 0, answer
    assert int(resp.headers["Retry-After"]) >= 1
    # The request's lines (the boundary's events are request_*): the app's background tasks
    # (the inbox's sweep, the score flush) meet the held tables too, and say so in lines of their own.
    lines = [line for line in boundary_log if line["event"].startswith("request_")]
    timeouts = [line for line in lines if line["event"] == "request_query_timeout"]
    assert len(timeouts) == 1 and [line["log_level"] for line in lines] == ["warning"], boundary_log
    if query is not None:
        assert timeouts[0]["query"] == query, timeouts


@pytest.mark.timeout(90)
@pytest.mark.parametrize("command", [("contacts", "merge", "1", "2"), ("tags", "refresh"), ("report", "missed")])
async def test_a_command_out_of_time_prints_one_line_and_fails(db_url: str, repo: Repository, tmp_path: Path,
                                                              command: tuple[str, ...]) -> None:
    await repo.pool.execute("INSERT INTO contacts (id, name) VALUES (1, 'Анна'), (2, 'Анна С.')")
    settings = _settings(db_url, tmp_path)
    async with tables_held(db_url):
        code, out, err = await run_cli(settings, *command, extra_env={"CALLBRIDGE_DB_COMMAND_TIMEOUT_S": TIMEOUT_S})
    assert code == 1, (out, err)
    said = [line for line in err.splitlines() if not line.startswith("{")]
    assert len(said) == 1 and said[0].startswith(f"callbridge: {command[0]}: query timeout after"), err
    assert "Traceback" not in err and "unavailable" not in err


async def test_what_is_a_timeout_and_what_is_an_outage(db_url: str) -> None:
    """A statement timeout is a timeout; an operator's cancel and a refused connection are not."""
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute("SET statement_timeout = '50ms'")
        with pytest.raises(asyncpg.QueryCanceledError) as stopped:
            await conn.execute("SELECT pg_sleep(1)")
    finally:
        await conn.close()
    assert is_query_timeout(stopped.value)
    assert isinstance(translate(stopped.value, started=None), StorageTimeout)
    cancelled = asyncpg.QueryCanceledError("canceling statement due to user request")
    cancelled.sqlstate = "57014"  # type: ignore[attr-defined]
    assert not is_query_timeout(cancelled)
    refused = translate(ConnectionRefusedError(111, "refused"))
    assert isinstance(refused, StorageUnavailable) and not isinstance(refused, StorageTimeout)


async def test_a_server_that_never_answers_a_connection_is_away_not_slow() -> None:
    """A connection that times out (directly or for the pool) is an outage, not a query timeout."""
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # never answers; returns when the client gives up
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    url = f"postgresql://postgres@127.0.0.1:{server.sockets[0].getsockname()[1]}/x"
    try:
        with pytest.raises(TimeoutError) as direct:
            await asyncpg.connect(url, timeout=0.3, ssl=False)
        pool = await asyncpg.create_pool(url, timeout=0.3, ssl=False, min_size=0)
        try:
            with pytest.raises(TimeoutError) as pooled:
                await pool.fetchval("SELECT 1")
        finally:
            await pool.close()
    finally:
        server.close()
        await server.wait_closed()
    for stopped in (direct.value, pooled.value):
        assert not is_query_timeout(stopped)
        ours = translate(stopped)
        assert isinstance(ours, StorageUnavailable) and not isinstance(ours, StorageTimeout)
