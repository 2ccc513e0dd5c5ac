"""Replies: how long ``POST /api/communications/{id}/reply`` takes to answer 202 (durable in the outbox),
and how long until the stand-in Telegram API has the message.

``python -m bench.replies [--conversations N] [--replies N] [--url postgresql://...]``

Creates a database of its own (dropped at the end), starts the real daemon
(``python -m daemon.cli run``, tests/support/daemon.py) with a Telegram source
whose API is the stand-in of tests/support/messengers.py on 127.0.0.1, opens N
conversations through the webhook, then sends replies to them at 1 and at 10 in
flight, each with an Idempotency-Key, and times each 202 (the whole HTTP round
trip from this process) and each reply's arrival at the stand-in. Target: 202's
p99 ≤ 50 ms. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from bench.suite.daemon import cpu_seconds
from daemon.store import migrate
from tests.support.daemon import API_TOKEN, Daemon
from tests.support.messengers import TOKEN, fake_messengers

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SECRET = "bench-telegram-secret"
CHAT_BASE = 900_000_000


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def _summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50_ms": round(statistics.median(values), 2),
            "p95_ms": round(_percentile(values, 0.95), 2), "p99_ms": round(_percentile(values, 0.99), 2),
            "max_ms": round(max(values), 2)}


async def _open(session: aiohttp.ClientSession, base: str, chats: int) -> None:
    for n in range(chats):
        chat = CHAT_BASE + n
        update = {"update_id": n + 1, "message": {
            "message_id": 1, "from": {"id": chat, "is_bot": False, "first_name": "Турист"},
            "chat": {"id": chat, "type": "private"}, "date": int(time.time()), "text": "Здравствуйте"}}
        async with session.post(f"{base}/inquiries/tg", json=update,
                                headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}) as resp:
            assert resp.status == 200, await resp.text()


async def _floor(session: aiohttp.ClientSession, base: str, requests: int) -> dict[str, float]:
    """The same machine's floor: an authenticated request that touches no database (GET /api/templates)."""
    took = []
    for _ in range(requests):
        started = time.perf_counter()
        async with session.get(f"{base}/api/templates", headers={"Authorization": f"Bearer {API_TOKEN}"}) as resp:
            await resp.read()
        took.append((time.perf_counter() - started) * 1000)
    return _summary(took)


async def _phase(session: aiohttp.ClientSession, base: str, targets: list[int], *, replies: int,
                 in_flight: int, label: str, sent_at: dict[str, float], pid: int) -> dict[str, Any]:
    accepted: list[float] = []
    started_at: dict[str, float] = {}
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(replies):
        queue.put_nowait(n)

    async def worker() -> None:
        while not queue.empty():
            n = queue.get_nowait()
            text = f"{label} {n}"
            body = {"text": text, "extension": "101"}
            headers = {"Authorization": f"Bearer {API_TOKEN}", "Idempotency-Key": f"{label}-{n}"}
            started = time.perf_counter()
            started_at[text] = started
            async with session.post(f"{base}/api/communications/{targets[n % len(targets)]}/reply",
                                    json=body, headers=headers) as resp:
                await resp.read()
                assert resp.status == 202, resp.status
            accepted.append((time.perf_counter() - started) * 1000)

    began, cpu_before = time.perf_counter(), cpu_seconds(pid)
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    took = time.perf_counter() - began
    deadline = time.monotonic() + 120
    while any(t not in sent_at for t in started_at) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    cpu_ms = (cpu_seconds(pid) - cpu_before) * 1000 / replies
    delivered = [(sent_at[t] - started_at[t]) * 1000 for t in started_at if t in sent_at]
    return {"in_flight": in_flight, "accepted": _summary(accepted), "rate_per_s": round(replies / took, 1),
            "delivered": _summary(delivered) if delivered else None,
            "not_delivered": len(started_at) - len(delivered),
            "daemon_cpu_ms_per_reply": round(cpu_ms, 2)}


async def run(url: str, conversations: int, replies: int) -> dict[str, Any]:
    name = f"callbridge_bench_replies_{os.getpid()}"
    admin = await asyncpg.connect(url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    db_url = url.rsplit("/", 1)[0] + "/" + name
    try:
        conn = await asyncpg.connect(db_url)
        try:
            await migrate.migrate(conn)
        finally:
            await conn.close()
        async with fake_messengers() as fake, aiohttp.ClientSession() as session:
            sent_at: dict[str, float] = {}
            fake.on_delivered = lambda delivery: sent_at.setdefault(delivery.text, time.perf_counter())  # type: ignore[func-returns-value]
            sources = {"tg": {"kind": "telegram", "secret": SECRET, "bot_token": TOKEN, "api_url": fake.telegram_url}}
            with tempfile.TemporaryDirectory() as tmp:
                daemon = Daemon(state_dir=Path(tmp) / "state", log_path=Path(tmp) / "daemon.log", env={
                    "CALLBRIDGE_DATABASE_URL": db_url, "CALLBRIDGE_SOURCES": json.dumps(sources),
                    "CALLBRIDGE_LOG_LEVEL": "warning"})
                await daemon.start()
                try:
                    await _open(session, daemon.url, conversations)
                    pool = await asyncpg.connect(db_url)
                    targets = [r["id"] for r in await pool.fetch("SELECT id FROM communications ORDER BY id")]
                    await pool.close()
                    assert daemon.proc is not None
                    pid = daemon.proc.pid
                    await _phase(session, daemon.url, targets, replies=100, in_flight=4, label="warm-up",
                                 sent_at=sent_at, pid=pid)
                    floor = await _floor(session, daemon.url, 500)
                    phases = [await _phase(session, daemon.url, targets, replies=replies, in_flight=n,
                                           label=f"reply-{n}", sent_at=sent_at, pid=pid) for n in (1, 10)]
                finally:
                    await daemon.stop()
        return {"machine": {"nproc": os.cpu_count(), "python": platform.python_version(),
                            "load_average": [round(x, 2) for x in os.getloadavg()]},
                "conversations": conversations, "floor_get_templates": floor, "phases": phases}
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--replies", type=int, default=2000)
    parser.add_argument("--url", default=DEFAULT_URL)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.url, args.conversations, args.replies)), ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
