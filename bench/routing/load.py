"""The load generator: calls in flight, each sending one signed Appeared-in-IVR event and
waiting for the stand-in PBX to receive the route command for it."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import statistics
import time
from dataclasses import dataclass, field

import aiohttp

from adapters.mango.signature import sign
from bench.routing.contacts import phone_digits
from tests.support.pbx import StandInPbx

ROUTE_WAIT_S = 10.0
LINE = "74951234567"


@dataclass
class Level:
    in_flight: int
    hold_s: float
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)   # webhook sent -> route received
    acks_ms: list[float] = field(default_factory=list)        # webhook sent -> 200 received
    missing: int = 0
    errors: int = 0
    elapsed_s: float = 0.0
    daemon_cpu_s: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies_ms) / self.elapsed_s if self.elapsed_s else 0.0

    def pct(self, p: float, values: list[float] | None = None) -> float:
        data = sorted(self.latencies_ms if values is None else values)
        if not data:
            return float("nan")
        return data[min(len(data) - 1, round(p / 100 * (len(data) - 1)))]

    def summary(self) -> dict[str, float | int]:
        return {
            "in_flight": self.in_flight, "hold_s": self.hold_s, "calls": len(self.latencies_ms),
            "rate_per_s": round(self.rate, 1),
            "p50_ms": round(self.pct(50), 2), "p95_ms": round(self.pct(95), 2), "p99_ms": round(self.pct(99), 2),
            "max_ms": round(max(self.latencies_ms, default=float("nan")), 2),
            "ack_p50_ms": round(self.pct(50, self.acks_ms), 2), "ack_p99_ms": round(self.pct(99, self.acks_ms), 2),
            "missing": self.missing, "errors": self.errors,
            "daemon_cpu_pct": round(100 * self.daemon_cpu_s / self.elapsed_s, 1) if self.elapsed_s else 0.0,
            # CPU time is less disturbed than wall time by other work on the machine.
            "daemon_cpu_ms_per_call": round(1000 * self.daemon_cpu_s / len(self.latencies_ms), 2)
            if self.latencies_ms else float("nan"),
        }


class LoadGenerator:
    def __init__(self, *, webhook_url: str, pbx: StandInPbx, api_key: str, api_salt: str,
                 contacts: int, seed: int = 3) -> None:
        self._url = webhook_url
        self._pbx = pbx
        self._key = api_key
        self._salt = api_salt
        self._contacts = contacts
        self._rng = random.Random(seed)
        self._ids = itertools.count(1)
        self._run = f"{int(time.time())}"

    def _form(self, call_no: int) -> tuple[str, dict[str, str]]:
        entry_id = f"bench-{self._run}-{call_no}"
        call_id = f"{entry_id}-ivr"
        caller = phone_digits(self._rng.randrange(self._contacts))
        body = json.dumps({
            "entry_id": entry_id, "call_id": call_id, "timestamp": int(time.time()), "seq": 1,
            "call_state": "Appeared", "location": "ivr", "from": {"number": caller},
            "to": {"number": LINE, "line_number": LINE},
        }, separators=(",", ":"))
        return call_id, {"vpbx_api_key": self._key, "sign": sign(self._key, body, self._salt), "json": body}

    async def _call(self, session: aiohttp.ClientSession, level: Level, record: bool) -> None:
        call_id, form = self._form(next(self._ids))
        routed = self._pbx.expect(call_id)
        sent = time.perf_counter()
        try:
            async with session.post(self._url, data=form) as resp:
                await resp.read()
                status = resp.status
        except aiohttp.ClientError:
            status = 0
        acked = time.perf_counter()
        if status != 200:
            self._pbx.forget(call_id)
            level.errors += record
            return
        try:
            arrived = await asyncio.wait_for(routed, timeout=ROUTE_WAIT_S)
        except TimeoutError:
            self._pbx.forget(call_id)
            level.missing += record
            return
        if record:
            level.latencies_ms.append((arrived - sent) * 1000)
            level.acks_ms.append((acked - sent) * 1000)

    async def run_level(self, level: Level, *, warmup_s: float, cpu_seconds) -> Level:
        """``level.in_flight`` calls at a time for warm-up plus ``level.seconds``; each call,
        once routed, stays in flight ``hold_s`` more before the next one starts."""
        connector = aiohttp.TCPConnector(limit=level.in_flight + 10)
        async with aiohttp.ClientSession(connector=connector) as session:
            started = time.perf_counter()
            measure_from = started + warmup_s
            stop_at = measure_from + level.seconds
            cpu_at_start: list[float] = []

            async def caller() -> None:
                while (now := time.perf_counter()) < stop_at:
                    record = now >= measure_from
                    if record and not cpu_at_start:
                        cpu_at_start.append(cpu_seconds())
                    await self._call(session, level, record)
                    if level.hold_s:
                        await asyncio.sleep(level.hold_s * (0.5 + self._rng.random()))

            await asyncio.gather(*(caller() for _ in range(level.in_flight)))
            level.elapsed_s = time.perf_counter() - measure_from
            level.daemon_cpu_s = cpu_seconds() - (cpu_at_start[0] if cpu_at_start else cpu_seconds())
        return level


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
