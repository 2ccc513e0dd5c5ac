"""The PBX's command API hangs, then answers 5xx, in the middle of a stream of calls.

Routing degrades (routes time out or fail, and the PBX's own scheme plays),
while the intake does not: every event is answered 200 and stored at once,
none waits for the PBX, none is spooled, and the final state is exactly a
clean delivery's.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from daemon.contacts.importer import import_contacts
from daemon.runtime.keys import ROUTER
from daemon.store.repository import Repository
from tests.callgen import (
    clean_state,
    customer_numbers,
    distinct_events,
    durable_state,
    generate_calls,
)
from tests.pbx_standin import FixedClock, routing_client, routing_settings
from tests.scenarios import Step
from tests.support.faults import Sender, eventually
from tests.support.pbx import serving_pbx

CALLS = 40
# Hung routes must outlive the stream, so that "the intake did not wait" is a fact, not a timing.
PBX_TIMEOUT_S = 5.0


def _write_contacts(path: Path, numbers: list[str]) -> Path:
    """Every caller of the generated calls is a known tourist of manager 105: each IVR leg is routed."""
    rows = [f"Турист {n};+{number};;105;" for n, number in enumerate(numbers)]
    path.write_text("name;phones;email;responsible_extension;tags\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _is_ivr_appeared(step: Step) -> bool:
    return (step.path == "/events/call" and step.json.get("call_state") == "Appeared"
            and step.json.get("location") == "ivr" and not step.json.get("from", {}).get("extension"))


@pytest.mark.timeout(60)
async def test_pbx_api_hanging_or_failing_never_holds_up_the_intake(
    server_url: str, template_db: str, db_url: str, office: Repository, tmp_path: Path
) -> None:
    calls = generate_calls(CALLS, seed=11)
    contacts = _write_contacts(tmp_path / "tourists.csv", customer_numbers(calls))

    async def known_tourists(repo: Repository) -> None:
        await import_contacts(repo, contacts, region="RU")

    expected = await clean_state(server_url, template_db, str(tmp_path / "clean"), count=CALLS, seed=11,
                                 prepare=known_tourists, label="known-tourists")
    await known_tourists(office)
    steps = [s for call in calls for s in call]
    ringing = [s for s in steps if _is_ivr_appeared(s)]  # callers now waiting in the IVR
    rest = [s for s in steps if not _is_ivr_appeared(s)]
    random.Random(11).shuffle(rest)
    half = len(ringing) // 2

    async with serving_pbx() as pbx:
        settings = routing_settings(db_url, tmp_path, pbx, pbx_request_timeout_s=str(PBX_TIMEOUT_S))
        async with routing_client(settings, FixedClock()) as client:
            sender = Sender([str(client.make_url("")).rstrip("/")], workers=8)
            # 1. The PBX's API hangs: the route commands wait, the webhooks do not.
            hang = asyncio.Event()
            pbx.respond("commands/route", gate=hang)
            await sender.send(ringing[:half])
            await eventually(lambda: _hanging(pbx), what="route commands to hang at the PBX")
            # 2. The PBX's API fails with 503.
            pbx.respond("commands/route", status=503)
            await sender.send(ringing[half:], start_index=half)
            await sender.send(rest, start_index=len(ringing))
            still_hanging = pbx.in_progress
            hang.set()
            await client.app[ROUTER].drain()

            assert still_hanging > 0, "the intake finished only after the PBX let go"
            assert sender.failed_attempts == 0
            assert set(sender.outcomes) <= {"stored", "duplicate"}, sender.outcomes  # nothing spooled
            assert len(pbx.commands("commands/route")) >= half
            outcomes = dict(await office.pool.fetch(
                "SELECT reason, count(*) FROM route_decisions GROUP BY reason"))
            assert outcomes.get("pbx_error", 0) > 0, outcomes
    assert await office.pool.fetchval("SELECT count(*) FROM inbox") == distinct_events(calls)
    assert await durable_state(office) == expected


async def _hanging(pbx) -> bool:  # type: ignore[no-untyped-def]
    return pbx.in_progress > 0
