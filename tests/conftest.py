"""Shared fixtures: a real PostgreSQL, a fresh database per test, a signed PBX.

The server is CALLBRIDGE_TEST_DATABASE_URL when set, else the one at
127.0.0.1:5432 when it answers, else an embedded one (pgserver). A template
database is migrated once per run; each test gets its own copy, and every
database this run made is dropped at the end. The copies are made ahead and
dropped behind the tests, on connections of their own (tests/databases.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import structlog
import structlog.testing
from aiohttp.test_utils import TestClient, TestServer

from adapters.mango.client import Employee
from config.settings import Settings, load_settings
from daemon.calls.lines import import_lines
from daemon.calls.managers import sync_managers
from daemon.contacts.importer import import_contacts
from daemon.http import boundary
from daemon.runtime.app import build_app
from daemon.runtime.logs import configure_logging
from daemon.store import migrate
from daemon.store.repository import Repository
from tests.databases import DROPS_AT_ONCE, DatabaseSupply, drop_databases
from tests.imapkit import Dovecot, dovecot_binary, running_dovecot
from tests.support.daemon import API_TOKEN
from tests.support.paths import FIXTURES, REPO
from tests.support.pbx import API_KEY, API_SALT, signed_form

LOCAL_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
RUN_ID = f"cbt_{os.getpid()}_{uuid.uuid4().hex[:6]}"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--long-faults", action="store_true", default=False,
        help="hold injected faults as long as the full runs do (PostgreSQL frozen 10 s); "
             "also CALLBRIDGE_TEST_LONG_FAULTS=1",
    )


def fixture_json(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


async def _answers(url: str) -> bool:
    try:
        conn = await asyncpg.connect(url, timeout=3)
    except (TimeoutError, OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """An admin URL of the PostgreSQL server this run uses."""
    configure_logging(level="warning", fmt="json")
    explicit = os.environ.get("CALLBRIDGE_TEST_DATABASE_URL")
    if explicit:
        yield explicit
        return
    if asyncio.run(_answers(LOCAL_SERVER_URL)):
        yield LOCAL_SERVER_URL
        return
    import pgserver

    with tempfile.TemporaryDirectory(prefix="callbridge-test-pg-") as data_dir:
        server = pgserver.get_server(data_dir, cleanup_mode="stop")
        try:
            yield server.get_uri("postgres")
        finally:
            server.cleanup()


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """A real IMAP server (Dovecot) for the whole run; tests add their own accounts."""
    binary = dovecot_binary()
    if binary is None:
        if os.environ.get("CI"):  # CI installs it (.ci/run): a missing server is a failure there
            pytest.fail("Dovecot is not installed; .ci/run installs dovecot-imapd")
        pytest.skip("Dovecot is not installed (apt-get install dovecot-imapd; .ci/run does)")
    with running_dovecot(binary) as server:
        yield server


@pytest.fixture(scope="session")
async def template_db(server_url: str) -> AsyncIterator[str]:
    """A database with the migrations applied, copied for each test."""
    name = f"{RUN_ID}_tmpl"
    admin = await asyncpg.connect(server_url)
    made: list[str] = []
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        conn = await asyncpg.connect(with_database(server_url, name))
        try:
            await migrate.migrate(conn)
        finally:
            await conn.close()
        yield name
    finally:
        rows = await admin.fetch("SELECT datname FROM pg_database WHERE datname LIKE $1", f"{RUN_ID}%")
        await admin.close()
        async with asyncpg.create_pool(server_url, min_size=1, max_size=DROPS_AT_ONCE) as droppers:
            names = [row["datname"] for row in rows]
            for start in range(0, len(names), DROPS_AT_ONCE):
                await drop_databases(droppers, names[start:start + DROPS_AT_ONCE])


@contextlib.asynccontextmanager
async def scratch_database(server_url: str, template_db: str) -> AsyncIterator[str]:
    """A migrated database of its own, copied from the template and dropped on exit."""
    name = f"{RUN_ID}_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
        yield with_database(server_url, name)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="session")
async def database_supply(server_url: str, template_db: str) -> AsyncIterator[DatabaseSupply]:
    supply = DatabaseSupply(server_url, template_db, prefix=RUN_ID)
    await supply.start()
    try:
        yield supply
    finally:
        await supply.close()


@pytest.fixture
async def db_url(server_url: str, database_supply: DatabaseSupply) -> AsyncIterator[str]:
    """A fresh, migrated database of this test's own."""
    name = await database_supply.take()
    try:
        yield with_database(server_url, name)
    finally:
        database_supply.drop_later(name)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return load_settings({
        "CALLBRIDGE_DATABASE_URL": db_url,
        "CALLBRIDGE_MANGO_API_KEY": API_KEY,
        "CALLBRIDGE_MANGO_API_SALT": API_SALT,
        "CALLBRIDGE_API_TOKEN": API_TOKEN,
        "CALLBRIDGE_STATE_DIR": str(tmp_path / "state"),
        "CALLBRIDGE_MANGO_API_URL": "http://127.0.0.1:9/vpbx/",
    })


@pytest.fixture
def boundary_log(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """What daemon/http/boundary.py's middlewares log during the test, as structlog event dicts.

    Its module logger is cached on first use with the session's output stream, which no
    capture fixture sees: a fresh one, made inside structlog's capture, stands in for it.
    """
    with structlog.testing.capture_logs() as captured:
        monkeypatch.setattr(boundary, "log", structlog.get_logger("daemon.http.boundary"))
        yield captured


@pytest.fixture
async def pool(db_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(db_url, min_size=1, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture
def repo(pool: asyncpg.Pool) -> Repository:
    return Repository(pool)


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[TestClient]:
    app = build_app(settings, database_url=settings.database.url, apply_migrations=False)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def post_event(client: TestClient, path: str, payload: Any) -> Any:
    """POST a signed event under /mango; returns the response (already read)."""
    resp = await client.post("/mango" + path, data=signed_form(payload))
    await resp.read()
    return resp


def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {API_TOKEN}"}


def example_employees() -> list[Employee]:
    users = fixture_json("config_users_response.json")["response"]["users"]
    return [
        Employee(extension=u["telephony"]["extension"], name=u["general"]["name"],
                 email=u["general"]["email"], user_id=u["general"]["user_id"])
        for u in users
    ]


async def load_office(repo: Repository) -> None:
    await sync_managers(repo, example_employees())
    await import_contacts(repo, FIXTURES / "contacts.csv", region="RU")
    await import_lines(repo, FIXTURES / "lines.csv", region="RU")


@pytest.fixture
async def office(repo: Repository) -> Repository:
    """The example agency: contacts.csv, lines.csv and the PBX's employees loaded."""
    await load_office(repo)
    return repo


@pytest.fixture
def db_reset(repo: Repository):
    """Empty every table and load the example agency again, within one test."""

    async def reset() -> None:
        # Every table the migrations made (so a new one can never be left behind),
        # but the rows a migration seeded.
        truncate = await repo.pool.fetchval(
            "SELECT 'TRUNCATE ' || string_agg(quote_ident(tablename), ', ') || ' RESTART IDENTITY CASCADE'"
            " FROM pg_tables WHERE schemaname = 'public'"
            " AND tablename NOT IN ('schema_migrations', 'route_rate_bucket')"
        )
        await repo.pool.execute(truncate)
        # The one row of the shared route pace is the migration's, not data: put it back as made.
        await repo.pool.execute("UPDATE route_rate_bucket SET tat = DEFAULT")
        await load_office(repo)

    return reset


async def run_cli(
    settings: Settings, *args: str, extra_env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """Run ``python -m daemon.cli ARGS`` against the test database; (exit code, stdout, stderr)."""
    env = (
        {k: v for k, v in os.environ.items() if not k.startswith("CALLBRIDGE_")}
        | {
            "CALLBRIDGE_DATABASE_URL": settings.database.url or "",
            "CALLBRIDGE_MANGO_API_KEY": API_KEY,
            "CALLBRIDGE_MANGO_API_SALT": API_SALT,
            "CALLBRIDGE_API_TOKEN": API_TOKEN,
            "CALLBRIDGE_LOG_FORMAT": "json",
            "CALLBRIDGE_STATE_DIR": str(settings.state_dir),
        }
        | (extra_env or {})
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "daemon.cli",
        *args,
        env=env,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 45)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def after_database_line(out: str) -> str:
    """A writing command's stdout after its first line, which names the database it writes to."""
    first, _, rest = out.partition("\n")
    assert first.startswith("database: "), out
    return rest
