"""PBX calls made to order for the lead tests: a template scenario at a chosen time, number and line.

Each call is one of the PBX's example scenarios (tests/fixtures) with its ids
suffixed, its customer number replaced and every PBX time shifted so that the
call starts at ``at``. Posted through the real signed webhook.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from aiohttp.test_utils import TestClient

from tests.callgen import _is_customer_number, rewrite, suffixed_id
from tests.scenarios import Step, replay, steps

TIME_FIELDS = frozenset({"timestamp", "create_time", "forward_time", "talk_time", "end_time"})
LINES = {"yandex": "74951234567", "avito": "74957654321", "none": "74950000000"}
TEMPLATE_LINE = "74951234567"
ANSWERED, MISSED, CALLBACK = "answered_incoming.json", "missed_incoming.json", "outgoing_callback.json"


def _first_time(items: list[Step]) -> int:
    return min(int(s.json[f]) for s in items for f in ("timestamp", "create_time") if s.json.get(f))


def call_at(template: str, *, name: str, number: str, at: datetime, line: str = "yandex") -> list[Step]:
    """The ``template`` call made unique by ``name``, from/to ``number``, starting at ``at``."""
    items = steps(template)
    shift = int(at.timestamp()) - _first_time(items)
    line_number = LINES.get(line, line)

    def replace(key: str, item: Any) -> Any:
        if key == "number" and _is_customer_number(item):
            return number
        if key in ("number", "line_number") and item == TEMPLATE_LINE:
            return line_number
        if key in TIME_FIELDS and isinstance(item, int) and item:
            return item + shift
        return suffixed_id(key, item, f"~{name}")

    return [Step(s.path, rewrite(s.json, replace)) for s in items]


def entry_id_of(items: list[Step]) -> str:
    return next(s.json["entry_id"] for s in items if "entry_id" in s.json)


async def post_call(client: TestClient, template: str, *, name: str, number: str, at: datetime,
                    line: str = "yandex") -> str:
    """Post the call's events in order; its entry_id."""
    items = call_at(template, name=name, number=number, at=at, line=line)
    await replay(client, items)
    return entry_id_of(items)


# -- the hand-counted week (tests/integration/test_leads_analytics.py writes out every figure) --------
MSK = timezone(timedelta(hours=3))
P1, P2, P3, P4, P5, ANNA = ("79260000101", "79260000102", "79260000103", "79260000104", "79260000105",
                            "79161234567")
WEEK_SINCE = datetime(2025, 3, 3, tzinfo=MSK)  # Monday
WEEK_UNTIL = datetime(2025, 3, 8, tzinfo=MSK)
OFFICE_HOURS = {day: "09:00-19:00" for day in ("mon", "tue", "wed", "thu", "fri")}


def msk(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=MSK)


# (name, template, number, time, line). #0 is before the window and opens P5's lead.
WEEK_CALLS = (
    ("w0", ANSWERED, P5, datetime(2025, 2, 28, 10, 0, tzinfo=MSK), "avito"),
    ("w1", ANSWERED, P1, msk(3, 10), "yandex"),
    ("w2", MISSED, P2, msk(3, 18, 50), "avito"),
    ("w2cb", CALLBACK, P2, msk(4, 9, 5), "avito"),
    ("w3", MISSED, P1, msk(4, 11), "yandex"),
    ("w3cb", CALLBACK, P1, msk(4, 11, 5), "yandex"),
    ("w4", MISSED, ANNA, msk(5, 12), "none"),
    ("w5", MISSED, P3, msk(5, 13), "yandex"),
    ("w6", ANSWERED, P3, msk(5, 14), "yandex"),
    ("w7", ANSWERED, P4, msk(6, 15), "avito"),
    ("w8", MISSED, P5, msk(7, 10), "avito"),
)


async def post_week(client: TestClient) -> dict[str, str]:
    """Every call of the week through the webhooks; name -> entry_id."""
    return {name: await post_call(client, template, name=name, number=number, at=at, line=line)
            for name, template, number, at, line in WEEK_CALLS}
