"""What the manager's screen writes under /api (behind the same bearer token).

- ``PUT /api/communications/{id}/note`` ``{"note": "..."}``: «Примечание» on a
  communication; an empty note clears it. What the note says the tourist wants is laid
  over the call's lead's wish (daemon/inquiries/wish_step.py).
- ``PUT /api/contacts/{id}/name`` ``{"name": "..."}``: names a new caller.

The page's other calls are other parts' endpoints: ``GET /api/reports/missed``
(today's missed callers) and ``POST /api/calls`` (click-to-call).
"""

from __future__ import annotations

from aiohttp import web

from daemon.domain.errors import BadInput
from daemon.http.boundary import json_response
from daemon.http.inputs import json_object, path_id, storable_text
from daemon.inquiries.wish_step import refine_from_note
from daemon.runtime.keys import REPOSITORY
from daemon.store.repository import translated_errors

NOTE_MAX_CHARS = 4000
NAME_MAX_CHARS = 200


async def _text_field(request: web.Request, field: str, *, max_chars: int, nullable: bool) -> str | None:
    """The stripped string ``field`` of a JSON object body; BadInput saying what is wrong."""
    example = f'{{"{field}": "..."}}'
    body = await json_object(request, example=example)
    if field not in body:
        raise BadInput(400, f"the body must be a JSON object {example}")
    value = body[field]
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise BadInput(400, f"{field} must be a string")
    value = storable_text(value.strip(), field)
    if len(value) > max_chars:
        raise BadInput(400, f"{field} is longer than {max_chars} characters")
    if not value:
        if nullable:
            return None
        raise BadInput(400, f"{field} must not be empty")
    return value


class ScreenApi:
    def add_routes(self, app: web.Application) -> None:
        # Any id-like text reaches the handler, which answers 404 unless it is ASCII digits.
        app.router.add_put(r"/api/communications/{id}/note", self.put_note)
        app.router.add_put(r"/api/contacts/{id}/name", self.put_name)

    async def put_note(self, request: web.Request) -> web.Response:
        communication_id = path_id(request)
        note = await _text_field(request, "note", max_chars=NOTE_MAX_CHARS, nullable=True)
        # The wish first: saving the note notifies the screens, which then read the wish.
        with translated_errors():
            await refine_from_note(request.app[REPOSITORY].pool, communication_id, note)
        row = await request.app[REPOSITORY].set_communication_note(communication_id, note)
        if row is None:
            raise BadInput(404, "no communication with this id")
        return json_response({"id": row["id"], "entry_id": row["entry_id"], "note": row["note"]})

    async def put_name(self, request: web.Request) -> web.Response:
        contact_id = path_id(request)
        name = await _text_field(request, "name", max_chars=NAME_MAX_CHARS, nullable=False)
        assert name is not None
        row = await request.app[REPOSITORY].set_contact_name(contact_id, name)
        if row is None:
            raise BadInput(404, "no contact with this id")
        return json_response({"id": row["id"], "name": row["name"]})
