"""PBX calls made to order for the lead tests: a template scenario at a chosen time, number and line.

Each call is one of the PBX's example scenarios (tests/fixtures) with its ids
suffixed, its customer number replaced and every PBX time shifted so that the
call starts at ``at``. Posted through the real signed webhook.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from aiohttp.test_utils import TestClient

from tests.callgen import ID_FIELDS, _is_customer_number
from tests.scenarios import Step, replay, steps

TIME_FIELDS = frozenset({"timestamp", "create_time", "forward_time", "talk_time", "end_time"})
LINES = {"yandex": "74951234567", "avito": "74957654321", "none": "74950000000"}
TEMPLATE_LINE = "74951234567"
ANSWERED, MISSED, CALLBACK = "answered_incoming.json", "missed_incoming.json", "outgoing_callback.json"


def _first_time(items: list[Step]) -> int:
    return min(int(s.json[f]) for s in items for f in ("timestamp", "create_time") if s.json.get(f))


def _rewrite(value: Any, *, suffix: str, number: str, shift: int, line: str) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in ID_FIELDS and isinstance(item, str) and item:
                out[key] = item + suffix
            elif key == "number" and _is_customer_number(item):
                out[key] = number
            elif key in ("number", "line_number") and item == TEMPLATE_LINE:
                out[key] = line
            elif key in TIME_FIELDS and isinstance(item, int) and item:
                out[key] = item + shift
            else:
                out[key] = _rewrite(item, suffix=suffix, number=number, shift=shift, line=line)
        return out
    if isinstance(value, list):
        return [_rewrite(v, suffix=suffix, number=number, shift=shift, line=line) for v in value]
    return value


def call_at(template: str, *, name: str, number: str, at: datetime, line: str = "yandex") -> list[Step]:
    """The ``template`` call made unique by ``name``, from/to ``number``, starting at ``at``."""
    items = steps(template)
    shift = int(at.timestamp()) - _first_time(items)
    return [Step(s.path, _rewrite(copy.deepcopy(s.json), suffix=f"~{name}", number=number, shift=shift,
                                  line=LINES.get(line, line)))
            for s in items]


def entry_id_of(items: list[Step]) -> str:
    return next(s.json["entry_id"] for s in items if "entry_id" in s.json)


async def post_call(client: TestClient, template: str, *, name: str, number: str, at: datetime,
                    line: str = "yandex") -> str:
    """Post the call's events in order; its entry_id."""
    items = call_at(template, name=name, number=number, at=at, line=line)
    await replay(client, items)
    return entry_id_of(items)
