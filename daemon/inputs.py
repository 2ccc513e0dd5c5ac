"""Reading what a client sends: a JSON object body and text fields, refused with a reason.

PostgreSQL's text refuses NUL, and a lone surrogate (``"\\ud800"`` is valid JSON)
cannot be encoded as UTF-8 at all: both used to reach the driver and come back
as 500s. JSON nested past the interpreter's recursion limit raised
RecursionError. Each is a 400 here, before anything is stored.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from daemon.errors import BadInput


async def json_object(request: web.Request, *, example: str) -> dict[str, Any]:
    """The body as a JSON object; BadInput (400) naming ``example`` otherwise."""
    try:
        body = json.loads(await request.text())
    except RecursionError:
        raise BadInput(400, "the body's JSON is nested too deeply") from None
    except LookupError:
        raise BadInput(400, "unknown charset", charset=str(request.charset)[:40]) from None
    except (ValueError, UnicodeError):
        raise BadInput(400, f"the body must be JSON: {example}") from None
    if not isinstance(body, dict):
        raise BadInput(400, f"the body must be a JSON object {example}")
    return body


def storable_text(value: str, field: str) -> str:
    """``value`` if PostgreSQL can store it as text; BadInput (400) naming ``field`` otherwise."""
    if "\x00" in value:
        raise BadInput(400, f"{field} must not contain a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(400, f"{field} must not contain a lone surrogate (invalid Unicode)") from None
    return value


def path_id(request: web.Request, name: str = "id", *, max_value: int = 2**63 - 1) -> int:
    """A positive bigint id from the path in ASCII digits; 404 for anything else.

    Not ``int()`` on whatever matched ``\\d+``: that takes Arabic-Indic digits as
    a number, and raises ValueError past 4,300 digits.
    """
    text = request.match_info[name]
    if not (text.isascii() and text.isdigit() and len(text) <= len(str(max_value))):
        raise BadInput(404, f"no such {name}: ids are positive numbers in ASCII digits")
    value = int(text)
    if not 0 < value <= max_value:
        raise BadInput(404, f"no such {name}: ids are positive numbers in ASCII digits")
    return value
