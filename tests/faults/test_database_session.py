"""The session settings of the daemon's and the CLI's connections (daemon/store/database.py)."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from config.settings import Settings
from daemon.runtime.keys import REPOSITORY
from daemon.store.database import create_pool


async def test_the_daemons_connections_run_without_jit(client: TestClient) -> None:
    """PostgreSQL's JIT compiled longer than our reads ran; the server's default (on) is overridden."""
    pool = client.server.app[REPOSITORY].pool
    assert await pool.fetchval("SHOW jit") == "off"


async def test_jit_is_a_setting(settings: Settings) -> None:
    """The CLI's commands open their pool with create_pool too; db_jit = true gives the JIT back."""
    assert settings.database.jit is False
    for enabled, shown in ((False, "off"), (True, "on")):
        pool = await create_pool(settings.model_copy(update={"db_jit": enabled}), str(settings.database.url),
                                 attempts=1)
        try:
            assert await pool.fetchval("SHOW jit") == shown
        finally:
            await pool.close()
