"""Typed aiohttp application keys shared by the daemon's handlers."""

from __future__ import annotations

from aiohttp import web

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

SETTINGS = web.AppKey("settings", Settings)
REPOSITORY = web.AppKey("repository", Repository)
PIPELINE = web.AppKey("pipeline", Pipeline)
INTAKE = web.AppKey("intake", Intake)
TASKS = web.AppKey("tasks", TaskGroup)
METRICS = web.AppKey("metrics", Metrics)
SPOOL = web.AppKey("spool", Spool)
RELOADER = web.AppKey("reloader", Reloader)
PBX_CLIENT = web.AppKey("pbx_client", MangoClient)
ROUTER = web.AppKey("router", Router)
# Tests set this before start-up to judge office hours at a chosen time.
ROUTING_CLOCK = web.AppKey("routing_clock", Clock)
