"""``PUT /api/contacts/{id}/preferred-channel``: the channel a manager knows the person prefers.

``{"channel": "telegram"}`` sets it by hand (the computation leaves it alone from
then on); ``{"channel": null}`` gives it back to the computation (daemon/contacts/score.py).
"""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from daemon.contacts.errors import ContactRefused
from daemon.contacts.score import refresh_contacts
from daemon.domain.inquiry import Channel
from daemon.http.boundary import json_response
from daemon.http.inputs import json_model, path_id
from daemon.runtime.keys import RELOADER, REPOSITORY
from daemon.store.queries import q
from daemon.store.repository import translated_errors


class PreferredChannelBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: Channel | Literal[None]


async def put_preferred_channel(request: web.Request) -> web.Response:
    contact_id = path_id(request, "contact_id")
    body = await json_model(request, PreferredChannelBody, example='{"channel": "telegram"} or {"channel": null}')
    pool = request.app[REPOSITORY].pool
    with translated_errors():
        row = await pool.fetchrow(q("contact_preferred_channel_set"), contact_id, body.channel)
    if row is None:
        raise ContactRefused(404, "no such contact", contact_id=contact_id)
    if body.channel is None:  # back to the computation: recompute it now
        await refresh_contacts(pool, [row["id"]], request.app[RELOADER].current)
        with translated_errors():
            row = await pool.fetchrow(q("contact_preferred_channel_get"), row["id"])
    return json_response({"contact_id": row["id"], "preferred_channel": row["preferred_channel"],
                              "preferred_channel_by_hand": row["preferred_channel_by_hand"]})


def add_routes(app: web.Application) -> None:
    app.router.add_put(r"/api/contacts/{contact_id:\d+}/preferred-channel", put_preferred_channel)
