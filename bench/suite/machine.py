"""A description of the machine a run was measured on."""

from __future__ import annotations

import datetime as dt
import os
import platform
from pathlib import Path

import asyncpg


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _mem_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return 0.0


async def describe(conn: asyncpg.Connection) -> dict[str, str]:
    settings = {r["name"]: r["setting"] + (r["unit"] or "") for r in await conn.fetch(
        "SELECT name, setting, unit FROM pg_settings WHERE name = ANY($1::text[])",
        ["shared_buffers", "synchronous_commit", "fsync", "max_connections"])}
    load1, load5, _ = os.getloadavg()
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": f"{os.cpu_count()} × {_cpu_model()} ({'KVM guest' if 'hypervisor' in Path('/proc/cpuinfo').read_text() else 'bare'})",
        "memory": f"{_mem_gib():.1f} GiB",
        "postgresql": (await conn.fetchval("SHOW server_version")) + " on 127.0.0.1:5432, same machine; "
        + ", ".join(f"{k}={v}" for k, v in sorted(settings.items())),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "kernel": platform.release(),
        "load_before": f"{load1:.2f} (1 min), {load5:.2f} (5 min)",
    }
