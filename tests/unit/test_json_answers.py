"""Every JSON answer is written by the boundary's ``dumps``: English keys, Cyrillic as UTF-8 text.

aiohttp's own ``web.json_response`` escapes every non-ASCII character (``\\u0410``); a
route that called it directly answered a manager's name unreadably. The boundary's
``json_response`` is the one way a route answers JSON, and this test keeps it so.
"""

from __future__ import annotations

import ast

from daemon.http.boundary import dumps, json_response
from tests.unit.test_import_layers import MODULES

ALLOWED = {"daemon.http.boundary"}


def _direct_calls(module: str) -> list[int]:
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr == "json_response"
            and isinstance(node.value, ast.Name) and node.value.id == "web"]


def test_no_route_answers_json_past_the_boundary() -> None:
    found = {name: lines for name in MODULES if name not in ALLOWED and (lines := _direct_calls(name))}
    assert found == {}


def test_the_boundary_writes_cyrillic_as_text() -> None:
    answer = json_response({"error": "нет такого контакта", "name": "Анна"}, status=404)
    assert answer.status == 404
    assert answer.text == '{"error": "нет такого контакта", "name": "Анна"}'
    assert answer.charset == "utf-8"
    assert "\\u" not in dumps({"reason": "дорого"})
