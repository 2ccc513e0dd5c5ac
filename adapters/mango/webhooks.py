"""The PBX's webhooks: verify the signature, parse, translate, hand to the sink.

Order of checks (each answered at once): content type (415) -> size (413) ->
form fields (400) -> key and sign (403) -> JSON (400) -> fields (400) ->
durable store (200, or 503 when nothing could store it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web
from pydantic import ValidationError

from adapters.mango import models as m
from adapters.mango.signature import verify
from adapters.mango.translate import EVENT_PATHS, SOURCE, Translated, UnknownValue, command_result
from daemon.domain import Envelope
from daemon.errors import StorageUnavailable
from daemon.metrics import Metrics

log = structlog.get_logger(__name__)

Sink = Callable[[Envelope], Awaitable[str]]
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# Stats-ready notifications carry a request key, not a command result.
NOT_COMMAND_RESULTS = frozenset({"stat", "stats"})
MAX_ERRORS_SHOWN = 5


class ClientGone(Exception):
    """The sender hung up before its whole body arrived: nobody to answer, nothing to keep."""


class BadRequest(Exception):
    def __init__(self, status: int, problem: str, **details: Any) -> None:
        super().__init__(problem)
        self.status = status
        self.body = {"error": problem, **details}


class MangoWebhooks:
    """aiohttp handler for every POST under the webhook prefix."""

    def __init__(self, *, api_key: str, api_salt: str, sink: Sink, body_limit_bytes: int,
                 metrics: Metrics) -> None:
        self._api_key = api_key
        self._api_salt = api_salt
        self._sink = sink
        self._body_limit = body_limit_bytes
        self._metrics = metrics

    def add_routes(self, app: web.Application, prefix: str) -> None:
        app.router.add_post(prefix + "/{path:.*}", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        path = request.match_info["path"].strip("/")
        started = time.perf_counter()
        # Keep-alive connections serve many requests in one task: start clean.
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(pbx_path=path)
        try:
            reader = self._reader(path)
            if reader is None:
                log.info("pbx_unhandled_post", path=path)  # the PBX's connection check, or news
                return web.json_response({"result": "ignored"})
            raw = await self._signed_json(request)
            translated = self._parse(raw, reader)
            env = Envelope(source=SOURCE, path=path, raw=raw, dedup_key=translated.dedup_key,
                           event=translated.event)
            structlog.contextvars.bind_contextvars(entry_id=env.entry_id, call_id=env.call_id)
            outcome = await self._sink(env)
        except BadRequest as exc:
            log.warning("webhook_rejected", status=exc.status, problem=exc.body["error"],
                        elapsed_ms=_ms(started))
            if exc.status == 403:
                self._metrics.signature_failures.inc()
            self._metrics.event_seen(_path_label(path), f"rejected_{exc.status}", started)
            return web.json_response(exc.body, status=exc.status)
        except ClientGone:
            # Not a failed event and not our error: the PBX (or whoever) will send it again.
            log.info("webhook_client_gone", elapsed_ms=_ms(started))
            self._metrics.client_disconnects.inc()
            return web.Response(status=400)
        except StorageUnavailable as exc:
            log.error("webhook_not_stored", error=str(exc), elapsed_ms=_ms(started))
            self._metrics.event_seen(env.event.kind, "unavailable", started)
            return web.json_response({"error": "storage unavailable, retry later"}, status=503)
        except Exception:
            # The boundary: whatever went wrong, the PBX gets a JSON answer that
            # says the event was not stored (so it may retry), and we get the trace.
            log.exception("webhook_not_stored", elapsed_ms=_ms(started))
            self._metrics.event_seen(_path_label(path), "error", started)
            return web.json_response({"error": "internal error, event not stored"}, status=500)
        log.info("webhook", outcome=outcome, kind=env.event.kind, elapsed_ms=_ms(started))
        self._metrics.event_seen(env.event.kind, outcome, started)
        return web.json_response({"result": outcome})

    @staticmethod
    def _reader(path: str) -> Callable[[dict[str, Any]], Translated] | None:
        kind = EVENT_PATHS.get(path)
        if kind is not None:
            return lambda data: kind.translate(kind.model.model_validate(data))
        command = path.removeprefix("result/")
        if command != path and command and command not in NOT_COMMAND_RESULTS:
            return lambda data: command_result(command, m.CommandResultEvent.model_validate(data))
        return None

    async def _signed_json(self, request: web.Request) -> str:
        if request.content_type not in FORM_TYPES:
            raise BadRequest(415, "expected a form post (application/x-www-form-urlencoded)",
                             content_type=request.content_type)
        if request.content_length is not None and request.content_length > self._body_limit:
            raise BadRequest(413, "body too large", limit_bytes=self._body_limit)
        try:
            form = await request.post()
        except web.HTTPRequestEntityTooLarge:
            raise BadRequest(413, "body too large", limit_bytes=self._body_limit) from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(400, "malformed form body", detail=str(exc)[:200]) from None
        except ConnectionResetError:  # aiohttp: "Connection lost" while reading the body
            raise ClientGone from None
        fields = {}
        for name in ("vpbx_api_key", "sign", "json"):
            value = form.get(name)
            if not isinstance(value, str):
                raise BadRequest(400, "missing form field", field=name)
            fields[name] = value
        if not verify(api_key=self._api_key, api_salt=self._api_salt, sent_key=fields["vpbx_api_key"],
                      json_text=fields["json"], sent_sign=fields["sign"]):
            raise BadRequest(403, "wrong vpbx_api_key or sign")
        return fields["json"]

    @staticmethod
    def _parse(raw: str, reader: Callable[[dict[str, Any]], Translated]) -> Translated:
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise BadRequest(400, "json field is not valid JSON", detail=str(exc)[:200]) from None
        if not isinstance(data, dict):
            raise BadRequest(400, "json field must be a JSON object")
        try:
            return reader(data)
        except ValidationError as exc:
            errors = [
                {"field": ".".join(str(p) for p in e["loc"]) or "json", "problem": e["msg"]}
                for e in exc.errors(include_url=False, include_input=False)[:MAX_ERRORS_SHOWN]
            ]
            raise BadRequest(400, "invalid event", fields=errors) from None
        except UnknownValue as exc:
            raise BadRequest(400, "invalid event", fields=[{"field": exc.field, "problem": str(exc)}]) from None


def _path_label(path: str) -> str:
    """A bounded metric label: hostile input must not mint new time series."""
    if path in EVENT_PATHS:
        return path
    return "result" if path.startswith("result/") else "other"


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
