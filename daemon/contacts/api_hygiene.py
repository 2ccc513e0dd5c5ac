"""``PUT|DELETE /api/contacts/{id}/do-not-call``: «Не звонить», kept on the contact's identifiers."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from daemon.contacts import hygiene
from daemon.contacts.api import store
from daemon.contacts.hygiene import MAX_REASON_CHARS
from daemon.http.boundary import json_response
from daemon.http.inputs import json_model, path_id


class DoNotCallBody(BaseModel):
    reason: str = Field(min_length=1, max_length=MAX_REASON_CHARS)


async def put_do_not_call(request: web.Request) -> web.Response:
    contact_id = path_id(request, "contact_id")
    body = await json_model(request, DoNotCallBody)
    answer = await hygiene.set_do_not_call(store(request), contact_id, body.reason)
    return json_response(answer)


async def delete_do_not_call(request: web.Request) -> web.Response:
    answer = await hygiene.lift_do_not_call(store(request), path_id(request, "contact_id"))
    return json_response(answer)


def add_routes(app: web.Application) -> None:
    app.router.add_put(r"/api/contacts/{contact_id:\d+}/do-not-call", put_do_not_call)
    app.router.add_delete(r"/api/contacts/{contact_id:\d+}/do-not-call", delete_do_not_call)
