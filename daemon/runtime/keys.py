"""Typed aiohttp application keys shared by the daemon's handlers.

The owners' types are imported for the annotations only (``TYPE_CHECKING``): a
handler that reads ``app[INTAKE]`` imports this module, not the intake, the
router or the PBX client, so the keys tie no package to another at run time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from adapters.mango.client import MangoClient
    from config.settings import Settings
    from daemon.intake.durable import Intake
    from daemon.intake.pipeline import Pipeline
    from daemon.intake.spool import Spool
    from daemon.routing.router import Clock, Router
    from daemon.runtime.metrics import Metrics
    from daemon.runtime.reload import Reloader
    from daemon.runtime.tasks import TaskGroup
    from daemon.store.repository import Repository

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
REPOSITORY: web.AppKey[Repository] = web.AppKey("repository")
PIPELINE: web.AppKey[Pipeline] = web.AppKey("pipeline")
INTAKE: web.AppKey[Intake] = web.AppKey("intake")
TASKS: web.AppKey[TaskGroup] = web.AppKey("tasks")
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
SPOOL: web.AppKey[Spool] = web.AppKey("spool")
RELOADER: web.AppKey[Reloader] = web.AppKey("reloader")
PBX_CLIENT: web.AppKey[MangoClient] = web.AppKey("pbx_client")
ROUTER: web.AppKey[Router] = web.AppKey("router")
# Tests set this before start-up to judge office hours at a chosen time.
ROUTING_CLOCK: web.AppKey[Clock] = web.AppKey("routing_clock")
