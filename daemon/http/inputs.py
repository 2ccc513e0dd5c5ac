"""Reading what a client sends, for every route: ids, JSON bodies, times, limits; refused with a reason.

Each reader raises BadInput (a 4xx, answered by daemon/http/boundary.py's error
middleware), never an exception of the library underneath:

- ``int()`` on whatever matched ``\\d+`` takes Arabic-Indic digits as a number
  and raises ValueError past 4,300 digits; a number past a bigint fails in the
  driver. Ids are ASCII digits within a bigint here.
- A body in an unknown charset raised LookupError, JSON nested past the
  interpreter's recursion limit RecursionError; PostgreSQL's text refuses NUL,
  and a lone surrogate (``"\\ud800"`` is valid JSON) cannot be encoded as UTF-8.
- A time near year 1 or 9999 overflows once moved to UTC or to a window's
  default start; times are kept to years 1900..2999 here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, tzinfo
from typing import Any

from aiohttp import web

from daemon.domain.errors import BadInput

MAX_ID = 2**63 - 1  # PostgreSQL's bigint
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)  # far from 9999, so a window's arithmetic cannot overflow
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"", "0", "false", "no", "off"})


async def json_object(request: web.Request, *, example: str) -> dict[str, Any]:
    """The body as a JSON object; BadInput (400) naming ``example`` otherwise."""
    body = await json_value(request, example=example)
    if not isinstance(body, dict):
        raise BadInput(400, f"the body must be a JSON object {example}")
    return body


async def json_value(request: web.Request, *, example: str) -> Any:
    """The body as any JSON value; BadInput (400) when it is not JSON in a charset we know."""
    try:
        return json.loads(await request.text())
    except RecursionError:
        raise BadInput(400, "the body's JSON is nested too deeply") from None
    except LookupError:
        raise BadInput(400, "unknown charset", charset=str(request.charset)[:40]) from None
    except (ValueError, UnicodeError):
        raise BadInput(400, f"the body must be JSON: {example}") from None


def storable_text(value: str, field: str) -> str:
    """``value`` if PostgreSQL can store it as text; BadInput (400) naming ``field`` otherwise."""
    if "\x00" in value:
        raise BadInput(400, f"{field} must not contain a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(400, f"{field} must not contain a lone surrogate (invalid Unicode)") from None
    return value


def as_id(text: str, *, max_value: int = MAX_ID) -> int | None:
    """A positive bigint written in ASCII digits, or None."""
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(max_value))):
        return None
    value = int(text)
    return value if 0 < value <= max_value else None


def path_id(request: web.Request, name: str = "id", *, max_value: int = MAX_ID) -> int:
    """A positive bigint id from the path; 404 for anything else (no such thing can exist)."""
    value = as_id(request.match_info[name], max_value=max_value)
    if value is None:
        raise BadInput(404, f"no such {name}: ids are positive numbers in ASCII digits")
    return value


def query_id(request: web.Request, name: str) -> int | None:
    """A positive bigint id from the query, None when absent; 400 for anything else."""
    text = request.query.get(name)
    if text is None:
        return None
    value = as_id(text)
    if value is None:
        raise BadInput(400, f"{name} must be a positive number in ASCII digits")
    return value


def query_int(request: web.Request, name: str, *, default: int, least: int = 1, most: int) -> int:
    """An integer ``least..most`` from the query (``default`` when absent); 400 otherwise."""
    text = request.query.get(name)
    if text is None:
        return default
    value = int(text) if text.isascii() and text.isdigit() and len(text) <= len(str(most)) else None
    if value is None or not least <= value <= most:
        raise BadInput(400, f"{name} must be {least}..{most}")
    return value


def query_flag(request: web.Request, name: str) -> bool:
    """``true``/``yes``/``1``/``on`` or ``false``/``no``/``0``/``off``/empty (absent: false); 400 otherwise."""
    value = request.query.get(name, "").lower()
    if value not in TRUE_WORDS | FALSE_WORDS:
        raise BadInput(400, f"{name} must be true or false")
    return value in TRUE_WORDS


def iso_time(text: str, tz: tzinfo, *, name: str) -> datetime:
    """ISO 8601 (``Z`` too); without an offset (or a bare date) it is office time. BadInput (400)
    when it is not a time, or is outside the years 1900..2999 once in UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(400, f"{name}: {text[:40]!r} is not an ISO 8601 time such as 2025-10-09T19:00") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    try:
        in_utc = value.astimezone(UTC)
    except (OverflowError, ValueError):
        in_utc = None
    if in_utc is None or not EARLIEST <= in_utc < LATEST:
        raise BadInput(400, f"{name} is out of range (years 1900 to 2999)")
    return value


def query_time(request: web.Request, name: str, tz: tzinfo) -> datetime | None:
    """``iso_time`` of the query parameter ``name`` in UTC; None when absent or empty."""
    text = request.query.get(name)
    return iso_time(text, tz, name=name).astimezone(UTC) if text else None
