"""Many distinct calls made from the PBX's example scenarios, and the state they must leave.

Each generated call is one example scenario with its identifiers (entry_id,
call_id, recording_id, command_id) suffixed and its customers' numbers
replaced by numbers no other call uses. Calls therefore never touch each
other's contacts or leads, so the final state does not depend on how the
calls interleave, only on every event arriving at least once.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient, TestServer

from config.settings import load_settings
from daemon.runtime.app import build_app
from daemon.store.repository import Repository
from tests.conftest import (
    API_KEY,
    API_SALT,
    API_TOKEN,
    load_office,
    scratch_database,
    signed_form,
)
from tests.scenarios import Step, final_state, steps

TEMPLATES = (
    "answered_incoming.json",
    "missed_incoming.json",
    "unknown_caller.json",
    "group_answered_by_second.json",
    "transfer_blind.json",
    "hidden_number_after_hours.json",
    "internal_call.json",
    "outgoing_callback.json",
)
ID_FIELDS = frozenset({"entry_id", "call_id", "taken_from_call_id", "recording_id", "command_id"})
# Columns written by routing, which is not part of "stored": a replayed event
# is never routed again (the caller has long left the IVR), so they may differ.
ROUTING_COLUMNS = ("routed_to", "route_reason", "route_command_id", "route_result")


def _is_customer_number(value: object) -> bool:
    """A Russian mobile number as the PBX writes it (lines are 7495..., so they stay)."""
    return isinstance(value, str) and len(value) == 11 and value.startswith("79") and value.isdigit()


KEEP = object()  # rewrite(): "no new value for this field; walk into it"


def rewrite(value: Any, replace: Callable[[str, Any], Any]) -> Any:
    """A copy of a PBX payload in which ``replace(key, item)`` gives each field's new value,
    or KEEP to keep the field and walk into it."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            new = replace(key, item)
            out[key] = rewrite(item, replace) if new is KEEP else new
        return out
    if isinstance(value, list):
        return [rewrite(v, replace) for v in value]
    return value


def suffixed_id(key: str, item: Any, suffix: str) -> Any:
    """The id ``item`` made unique by ``suffix`` when ``key`` names an id field; else KEEP."""
    return item + suffix if key in ID_FIELDS and isinstance(item, str) and item else KEEP


def generate_calls(count: int, *, seed: int = 5) -> list[list[Step]]:
    """``count`` distinct calls; call ``n`` is template ``n % len(TEMPLATES)`` made unique."""
    counter = iter(range(10_000_000))
    base = 7916_000_0000 + seed * 100_000

    def next_number() -> str:
        return str(base + next(counter))

    calls = []
    for n in range(count):
        template = steps(TEMPLATES[n % len(TEMPLATES)])
        numbers: dict[str, str] = {}
        suffix = f"~s{seed}c{n:04d}"

        def replace(key: str, item: Any, suffix: str = suffix, numbers: dict[str, str] = numbers) -> Any:
            if key == "number" and _is_customer_number(item):
                if item not in numbers:
                    numbers[item] = next_number()
                return numbers[item]
            return suffixed_id(key, item, suffix)

        calls.append([Step(s.path, rewrite(s.json, replace)) for s in template])
    return calls


def stream(calls: list[list[Step]], *, seed: int = 5, repeat_fraction: float = 0.1) -> list[Step]:
    """Every event of every call, interleaved at random, some delivered twice (at-least-once)."""
    rng = random.Random(seed)
    items = [s for call in calls for s in call]
    items += [s for s in items if rng.random() < repeat_fraction]
    rng.shuffle(items)
    return items


def customer_numbers(calls: list[list[Step]]) -> list[str]:
    """Every customer number the generated calls use, in order of first use."""
    found: dict[str, None] = {}

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "number" and _is_customer_number(item):
                    found.setdefault(item, None)
                walk(item)

    for call in calls:
        for step in call:
            walk(step.json)
    return list(found)


def distinct_events(calls: list[list[Step]]) -> int:
    """How many inbox rows the calls must leave (each distinct signed body once)."""
    return len({(s.path, _wire(s.json)) for call in calls for s in call})


def _wire(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def form_of(step: Step) -> dict[str, str]:
    return signed_form(step.json)


async def durable_state(repo: Repository) -> dict[str, Any]:
    """``tests.scenarios.final_state`` without routing marks, plus every stored event verbatim."""
    state = await final_state(repo)
    for comm in state["communications"]:
        for column in ROUTING_COLUMNS:
            comm.pop(column, None)
    state["inbox"] = [tuple(r) for r in await repo.pool.fetch(
        "SELECT dedup_key, path, raw FROM inbox ORDER BY dedup_key")]
    return state


def app_settings(database_url: str, state_dir: str, **extra: str) -> Any:
    """The daemon's settings for an in-process app against ``database_url``."""
    return load_settings({
        "CALLBRIDGE_DATABASE_URL": database_url,
        "CALLBRIDGE_MANGO_API_KEY": API_KEY,
        "CALLBRIDGE_MANGO_API_SALT": API_SALT,
        "CALLBRIDGE_API_TOKEN": API_TOKEN,
        "CALLBRIDGE_STATE_DIR": state_dir,
        "CALLBRIDGE_MANGO_API_URL": "http://127.0.0.1:9/vpbx/",
        **{f"CALLBRIDGE_{k.upper()}": v for k, v in extra.items()},
    })


_CLEAN: dict[tuple[str, int, int, str], dict[str, Any]] = {}
Prepare = Callable[[Repository], Awaitable[None]]


async def clean_state(server_url: str, template_db: str, state_dir: str, *, count: int,
                      seed: int = 5, prepare: Prepare | None = None, label: str = "") -> dict[str, Any]:
    """The durable state of ``generate_calls(count, seed)`` delivered once each, in order, no faults.

    ``prepare`` loads what the office had before the calls (after the example
    agency); ``label`` names it in the cache. Computed once per run and kept:
    every fault test compares its end state with it.
    """
    key = (server_url, count, seed, label)
    if key not in _CLEAN:
        async with scratch_database(server_url, template_db) as url:
            pool = await asyncpg.create_pool(url, min_size=1, max_size=2)
            try:
                repo = Repository(pool)
                await load_office(repo)
                if prepare is not None:
                    await prepare(repo)
                app = build_app(app_settings(url, state_dir), database_url=url, apply_migrations=False)
                async with TestClient(TestServer(app)) as client:
                    for call in generate_calls(count, seed=seed):
                        for step in call:
                            resp = await client.post("/mango" + step.path, data=form_of(step))
                            assert resp.status == 200, await resp.text()
                _CLEAN[key] = await durable_state(repo)
            finally:
                await pool.close()
    return copy.deepcopy(_CLEAN[key])
