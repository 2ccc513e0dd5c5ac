"""``GET /api/tasks?extension=`` and ``POST /api/tasks/{id}/done`` (daemon/leads/reminders.py)."""

from __future__ import annotations

from aiohttp import web

from daemon.domain.errors import BadInput
from daemon.http.boundary import json_response
from daemon.http.inputs import json_model, path_id, query_int
from daemon.leads.fields import Body, Extension
from daemon.leads.reminders import MAX_TASKS, mark_done, open_tasks
from daemon.runtime.keys import REPOSITORY

DEFAULT_HORIZON_DAYS = 1  # what is due by tomorrow at this time
MAX_HORIZON_DAYS = 366


class DoneBody(Body):
    extension: Extension | None = None


async def listing(request: web.Request) -> web.Response:
    extension = request.query.get("extension")
    if extension is not None and not extension.strip():
        raise BadInput(400, "extension must not be empty")
    horizon = query_int(request, "days", default=DEFAULT_HORIZON_DAYS, least=0, most=MAX_HORIZON_DAYS)
    limit = query_int(request, "limit", default=MAX_TASKS, most=MAX_TASKS)
    tasks = await open_tasks(request.app[REPOSITORY].pool, extension=extension, horizon_days=horizon, limit=limit)
    return json_response(tasks)


async def done(request: web.Request) -> web.Response:
    task_id = path_id(request, "task_id")
    body = await json_model(request, DoneBody, example='{"extension": "105"}', optional=True)
    return json_response(await mark_done(request.app[REPOSITORY].pool, task_id, body.extension))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/tasks", listing)
    app.router.add_post("/api/tasks/{task_id}/done", done)
