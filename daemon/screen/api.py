"""What the manager's screen writes under /api (behind the same bearer token).

- ``PUT /api/communications/{id}/note`` ``{"note": "..."}``: «Примечание» on a
  communication; an empty note clears it.
- ``PUT /api/contacts/{id}/name`` ``{"name": "..."}``: names a new caller.

The page's other calls are other parts' endpoints: ``GET /api/reports/missed``
(today's missed callers) and ``POST /api/calls`` (click-to-call).
"""

from __future__ import annotations

import json

from aiohttp import web

from daemon.errors import StorageUnavailable
from daemon.keys import REPOSITORY

NOTE_MAX_CHARS = 4000
NAME_MAX_CHARS = 200
MAX_ID = 2**63 - 1  # bigserial


def _error(status: int, problem: str) -> web.Response:
    return web.json_response({"error": problem}, status=status)


async def _text_field(request: web.Request, field: str, *, max_chars: int,
                      nullable: bool) -> str | None | web.Response:
    """The stripped string ``field`` of a JSON object body, or the 400 that says what is wrong."""
    example = f'{{"{field}": "..."}}'
    try:
        body = json.loads(await request.text())
    except ValueError:
        return _error(400, f"the body must be JSON: {example}")
    if not isinstance(body, dict) or field not in body:
        return _error(400, f"the body must be a JSON object {example}")
    value = body[field]
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        return _error(400, f"{field} must be a string")
    value = value.strip()
    if len(value) > max_chars:
        return _error(400, f"{field} is longer than {max_chars} characters")
    if not value:
        return None if nullable else _error(400, f"{field} must not be empty")
    return value


def _path_id(request: web.Request) -> int | None:
    value = int(request.match_info["id"])
    return value if 0 < value <= MAX_ID else None


class ScreenApi:
    def add_routes(self, app: web.Application) -> None:
        app.router.add_put(r"/api/communications/{id:\d+}/note", self.put_note)
        app.router.add_put(r"/api/contacts/{id:\d+}/name", self.put_name)

    async def put_note(self, request: web.Request) -> web.Response:
        note = await _text_field(request, "note", max_chars=NOTE_MAX_CHARS, nullable=True)
        if isinstance(note, web.Response):
            return note
        communication_id = _path_id(request)
        try:
            row = None if communication_id is None else (
                await request.app[REPOSITORY].set_communication_note(communication_id, note))
        except StorageUnavailable:
            return _error(503, "storage unavailable, retry later")
        if row is None:
            return _error(404, "no communication with this id")
        return web.json_response({"id": row["id"], "entry_id": row["entry_id"], "note": row["note"]})

    async def put_name(self, request: web.Request) -> web.Response:
        name = await _text_field(request, "name", max_chars=NAME_MAX_CHARS, nullable=False)
        if isinstance(name, web.Response):
            return name
        assert name is not None
        contact_id = _path_id(request)
        try:
            row = None if contact_id is None else (
                await request.app[REPOSITORY].set_contact_name(contact_id, name))
        except StorageUnavailable:
            return _error(503, "storage unavailable, retry later")
        if row is None:
            return _error(404, "no contact with this id")
        return web.json_response({"id": row["id"], "name": row["name"]})
