"""Posting scenario files (like tests/fixtures/*.json) to a running callbridge, signed.

For trying an installation: ``callbridge replay answered_incoming.json`` plays
the PBX's part of a whole call.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import aiohttp

from adapters.mango.client import compact_json
from adapters.mango.signature import sign

REPLAY_TIMEOUT_S = 10.0


def load_steps(path: Path) -> list[tuple[str, str]]:
    """(event path, json text) pairs of a scenario file ``{"steps": [{"path", "json"}]}``."""
    data = json.loads(path.read_text(encoding="utf-8"))
    steps = data.get("steps") if isinstance(data, dict) else None
    if not isinstance(steps, list):
        raise ValueError(f"{path}: expected an object with a list of steps")
    return [(str(s["path"]), compact_json(s["json"])) for s in steps]


async def replay(url: str, steps: list[tuple[str, str]], *, api_key: str, api_salt: str,
                 echo: Callable[[str], None] = print) -> int:
    """POST each step; returns how many were not answered 200."""
    failures = 0
    timeout = aiohttp.ClientTimeout(total=REPLAY_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for event_path, body in steps:
            form = {"vpbx_api_key": api_key, "sign": sign(api_key, body, api_salt), "json": body}
            async with session.post(url.rstrip("/") + event_path, data=form) as resp:
                answer = await resp.text()
            echo(f"{resp.status} {event_path} {answer}")
            failures += resp.status != 200
    return failures
