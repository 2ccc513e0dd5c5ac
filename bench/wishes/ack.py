"""What the wish step adds to an inquiry's acknowledgement: POST /api/inquiries with and without it.

``python -m bench.wishes.ack [--requests N] [--rounds R] [--url postgresql://...]``

Builds the daemon's app on a database of its own (dropped at the end) and posts the
labelled requests' texts (tests/fixtures/wishes/requests.txt) as API inquiries, each from
a new phone, one at a time: the 201 comes once the inquiry is filed, the projection
(and so the wish step) included. Rounds alternate «with» and «without» (the step replaced
by a no-op), so the machine's noise falls on both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient, TestServer

from config.settings import load_settings
from daemon.inquiries import projector
from daemon.runtime.app import build_app
from daemon.store import migrate
from tests.channels import API_TOKEN, channel_env
from tests.support.wishset import records

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


async def _no_wish(*args: Any, **kwargs: Any) -> dict[str, Any]:
    return {}


async def _round(client: TestClient, texts: list[str], start: int) -> list[float]:
    took: list[float] = []
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    for i, text in enumerate(texts):
        body = {"source": "bench", "external_id": f"b-{start + i}", "phone": f"+7903{start + i:07d}", "text": text}
        began = time.perf_counter()
        resp = await client.post("/api/inquiries", json=body, headers=headers)
        await resp.read()
        if resp.status == 201:  # a 202 was spooled (PostgreSQL too slow to answer): not filed, not timed
            took.append((time.perf_counter() - began) * 1000)
    return took


def _figures(took: list[float]) -> dict[str, float]:
    ordered = sorted(took)
    return {"filed": len(ordered), "median_ms": round(statistics.median(ordered), 2),
            "p99_ms": round(ordered[int(len(ordered) * 0.99)], 2)}


async def run(url: str, requests: int, rounds: int) -> dict[str, dict[str, float]]:
    name = f"callbridge_bench_wish_{os.getpid()}"
    admin = await asyncpg.connect(url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    db_url = url.rsplit("/", 1)[0] + "/" + name
    real = projector.refine_lead_wish
    try:
        conn = await asyncpg.connect(db_url)
        await migrate.migrate(conn)
        await conn.close()
        texts = ["\n".join(r.lines) for r in records() if r.style != "form"][:requests]
        with tempfile.TemporaryDirectory() as state:
            app = build_app(load_settings(channel_env(db_url, Path(state))), database_url=db_url,
                            apply_migrations=False)
            async with TestClient(TestServer(app)) as client:
                await _round(client, texts[:20], 10_000_000)  # warm-up: pools, caches, the dictionary
                found: dict[str, list[float]] = {"with": [], "without": []}
                for r in range(rounds):
                    for mode in ("with", "without"):
                        projector.refine_lead_wish = real if mode == "with" else _no_wish  # type: ignore[assignment]
                        found[mode] += await _round(client, texts, (2 * r + (mode == "without")) * requests)
        return {mode: _figures(took) for mode, took in found.items()}
    finally:
        projector.refine_lead_wish = real  # type: ignore[assignment]
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--url", default=DEFAULT_URL)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.url, args.requests, args.rounds)), indent=2))


if __name__ == "__main__":
    main()
