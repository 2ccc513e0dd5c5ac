"""``GET /api/leads/{id}`` (its stages and wish), ``PUT /api/leads/{id}/stage``, ``GET /api/analytics/funnel``."""

from __future__ import annotations

from typing import Any

import asyncpg
from aiohttp import web

from config.settings import FunnelSettings
from daemon.http.boundary import json_response
from daemon.http.inputs import json_model, path_id
from daemon.leads.fields import Body, Extension
from daemon.leads.funnel import checked_stage, lead_with_stages, move_stage
from daemon.leads.funnel_analytics import funnel_handler
from daemon.leads.wish import wish_of
from daemon.runtime.keys import RELOADER, REPOSITORY


class StageBody(Body):
    stage: str
    extension: Extension | None = None


async def lead_document(pool: asyncpg.Pool, lead_id: int, funnel: FunnelSettings) -> dict[str, Any]:
    """The one answer of ``GET /api/leads/{id}``: the lead, its stage and journal, and what the tourist wants."""
    return {**await lead_with_stages(pool, lead_id, funnel), "wish": await wish_of(pool, lead_id)}


async def lead(request: web.Request) -> web.Response:
    lead_id = path_id(request, "lead_id")
    funnel = request.app[RELOADER].current.funnel
    return json_response(await lead_document(request.app[REPOSITORY].pool, lead_id, funnel))


async def stage(request: web.Request) -> web.Response:
    """Move the lead to a stage (any direction); answers the lead as ``GET`` does."""
    lead_id = path_id(request, "lead_id")
    body = await json_model(request, StageBody, example='{"stage": "Согласование", "extension": "105"}')
    funnel = request.app[RELOADER].current.funnel
    pool = request.app[REPOSITORY].pool
    await move_stage(pool, lead_id, checked_stage(body.stage, funnel), body.extension)
    return json_response(await lead_document(pool, lead_id, funnel))


async def stages(request: web.Request) -> web.Response:
    return json_response({"stages": list(request.app[RELOADER].current.funnel.stages)})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/funnel/stages", stages)
    app.router.add_get("/api/leads/{lead_id}", lead)
    app.router.add_put("/api/leads/{lead_id}/stage", stage)
    app.router.add_get("/api/analytics/funnel", funnel_handler)
