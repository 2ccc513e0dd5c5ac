"""Routing tests around the stand-in PBX (``tests.support.pbx``): settings that point the
daemon at it, a fixed routing clock, a client with routing on, and live replay of a call."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from config.settings import Settings, load_settings
from daemon.runtime.app import build_app
from daemon.runtime.keys import ROUTER, ROUTING_CLOCK
from tests.conftest import API_KEY, API_SALT, API_TOKEN, post_event
from tests.scenarios import Step
from tests.support.pbx import StandInPbx

# Office hours under which every example call (Thursday 2025-10-09, 11:53 to
# 23:00 Moscow time) is in hours and hidden_number_after_hours.json (Friday
# 04:33) is not. The examples name no administrator and no line rule.
EXAMPLE_HOURS_TOML = """
timezone = "Europe/Moscow"
holidays = ["2026-01-01", "2026-01-02"]
route_rate_per_s = 1000

[office_hours]
mon = "08:00-24:00"
tue = "08:00-24:00"
wed = "08:00-24:00"
thu = "08:00-24:00"
fri = "08:00-24:00"
sat = "10:00-16:00"
sun = "closed"
"""


def routing_settings(db_url: str, tmp_path: Path, pbx: StandInPbx, *, toml: str = EXAMPLE_HOURS_TOML,
                     **env: str) -> Settings:
    config = tmp_path / f"routing-{len(list(tmp_path.glob('routing-*.toml')))}.toml"
    config.write_text(toml, encoding="utf-8")
    return load_settings({
        "CALLBRIDGE_CONFIG": str(config),
        "CALLBRIDGE_DATABASE_URL": db_url,
        "CALLBRIDGE_MANGO_API_KEY": API_KEY,
        "CALLBRIDGE_MANGO_API_SALT": API_SALT,
        "CALLBRIDGE_API_TOKEN": API_TOKEN,
        "CALLBRIDGE_STATE_DIR": str(tmp_path / "state"),
        "CALLBRIDGE_MANGO_API_URL": pbx.base_url,
        **{f"CALLBRIDGE_{k.upper()}": v for k, v in env.items()},
    })


class FixedClock:
    """The routing clock of a test: office hours are judged at the time it is set to."""

    def __init__(self, epoch: int = 1760000000) -> None:
        self.at = datetime.fromtimestamp(epoch, UTC)

    def now(self) -> datetime:
        return self.at

    def set_epoch(self, epoch: int) -> None:
        self.at = datetime.fromtimestamp(epoch, UTC)


@contextlib.asynccontextmanager
async def routing_client(settings: Settings, clock: FixedClock | None = None) -> AsyncIterator[TestClient]:
    """build_app with routing on, its clock fixed, served on a loopback port."""
    app = build_app(settings, database_url=settings.database.url or "", apply_migrations=False)
    app[ROUTING_CLOCK] = clock or FixedClock()
    async with TestClient(TestServer(app)) as client:
        yield client


async def replay_live(client: TestClient, steps: list[Step], clock: FixedClock) -> None:
    """Deliver steps as the PBX would in real time: the clock at each event's time, and the
    router done with an event before the next one comes (the caller waits in the IVR while
    we decide; only our route, or the hold running out, moves him on)."""
    for step in steps:
        epoch = step.json.get("timestamp") or step.json.get("create_time")
        if isinstance(epoch, int):
            clock.set_epoch(epoch)
        resp = await post_event(client, step.path, step.json)
        assert resp.status == 200, (step.path, resp.status, await resp.text())
        await client.app[ROUTER].drain()
