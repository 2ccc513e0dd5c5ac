"""``GET /api/leads/{id}`` (with its stages), ``PUT /api/leads/{id}/stage`` and ``GET /api/analytics/funnel``."""

from __future__ import annotations

from aiohttp import web

from daemon.http.inputs import json_model, path_id
from daemon.leads.fields import Body, Extension
from daemon.leads.funnel import checked_stage, lead_with_stages, move_stage
from daemon.leads.funnel_analytics import funnel_handler
from daemon.runtime.keys import RELOADER, REPOSITORY


class StageBody(Body):
    stage: str
    extension: Extension | None = None


async def lead(request: web.Request) -> web.Response:
    lead_id = path_id(request, "lead_id")
    funnel = request.app[RELOADER].current.funnel
    return web.json_response(await lead_with_stages(request.app[REPOSITORY].pool, lead_id, funnel))


async def stage(request: web.Request) -> web.Response:
    """Move the lead to a stage (any direction); answers the lead as ``GET`` does."""
    lead_id = path_id(request, "lead_id")
    body = await json_model(request, StageBody, example='{"stage": "Согласование", "extension": "105"}')
    funnel = request.app[RELOADER].current.funnel
    pool = request.app[REPOSITORY].pool
    await move_stage(pool, lead_id, checked_stage(body.stage, funnel), body.extension)
    return web.json_response(await lead_with_stages(pool, lead_id, funnel))


async def stages(request: web.Request) -> web.Response:
    return web.json_response({"stages": list(request.app[RELOADER].current.funnel.stages)})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/funnel/stages", stages)
    app.router.add_get("/api/leads/{lead_id}", lead)
    app.router.add_put("/api/leads/{lead_id}/stage", stage)
    app.router.add_get("/api/analytics/funnel", funnel_handler)
