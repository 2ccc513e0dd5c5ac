"""The PBX's webhooks: verify the signature, parse, translate, hand to the sink.

Order of checks (each answered at once): content type (415) -> size (413) ->
form fields (400) -> key and sign (403) -> JSON (400) -> fields (400) ->
durable store (200, or 503 when nothing could store it).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web
from pydantic import ValidationError

from adapters.mango import models as m
from adapters.mango.signature import verify
from adapters.mango.translate import EVENT_PATHS, SOURCE, Translated, UnknownValue, command_result
from daemon.domain.errors import BadInput, StorageRefused, StorageUnavailable
from daemon.domain.events import Envelope
from daemon.runtime.metrics import Metrics

log = structlog.get_logger(__name__)

Sink = Callable[[Envelope], Awaitable[str]]
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# Stats-ready notifications carry a request key, not a command result.
NOT_COMMAND_RESULTS = frozenset({"stat", "stats"})
MAX_ERRORS_SHOWN = 5
MAX_PATH_LOGGED = 64


class ClientGone(Exception):
    """The sender hung up before its whole body arrived: nobody to answer, nothing to keep."""


# Result paths are the PBX's command names ("route", "callback", "sms/send"...):
# anything else (a NUL, a 5,000-character name) is not a result of ours.
RESULT_COMMAND = re.compile(r"^[a-z][a-z0-9_/-]{0,31}$")


BadRequest = BadInput  # the name this module always used


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
        """One event: counted and logged here, answered by daemon/http/boundary.py when it fails."""
        path = request.match_info["path"].strip("/")
        started = time.perf_counter()
        structlog.contextvars.bind_contextvars(pbx_path=path[:MAX_PATH_LOGGED])
        kind = _path_label(path)
        try:
            reader = self._reader(path)
            if reader is None:
                log.info("pbx_unhandled_post")  # the PBX's connection check, or news
                return web.json_response({"result": "ignored"})
            raw = await self._signed_json(request)
            translated = self._parse(raw, reader)
            env = Envelope(source=SOURCE, path=path, raw=raw, dedup_key=translated.dedup_key,
                           event=translated.event)
            kind = env.event.kind
            structlog.contextvars.bind_contextvars(entry_id=env.entry_id, call_id=env.call_id)
            outcome = await self._sink(env)
        except ClientGone:
            # Not a failed event and not our error: the PBX (or whoever) will send it again.
            log.info("webhook_client_gone", elapsed_ms=_ms(started))
            self._metrics.client_disconnects.inc()
            return web.Response(status=400)
        except StorageRefused as exc:
            # PostgreSQL refused a value the models let through: the event's fault, and
            # answering 500 would have the PBX resend it forever.
            self._rejected(path, started, BadInput(400, "invalid event", detail=str(exc)[:200]))
            raise BadInput(400, "invalid event", detail="a value was refused by the database") from exc
        except BadInput as exc:
            self._rejected(path, started, exc)
            raise
        except StorageUnavailable as exc:
            log.error("webhook_not_stored", error=str(exc), elapsed_ms=_ms(started))
            self._metrics.event_seen(kind, "unavailable", started)
            raise
        except Exception:
            # The boundary middleware logs the trace and answers 500 (not stored: the PBX retries).
            self._metrics.event_seen(_path_label(path), "error", started)
            raise
        log.info("webhook", outcome=outcome, kind=env.event.kind, elapsed_ms=_ms(started))
        self._metrics.event_seen(env.event.kind, outcome, started)
        return web.json_response({"result": outcome})

    def _rejected(self, path: str, started: float, exc: BadInput) -> None:
        log.warning("webhook_rejected", status=exc.status, problem=exc.body["error"], elapsed_ms=_ms(started))
        if exc.status == 403:
            self._metrics.signature_failures.inc()
        self._metrics.event_seen(_path_label(path), f"rejected_{exc.status}", started)

    @staticmethod
    def _reader(path: str) -> Callable[[dict[str, Any]], Translated] | None:
        kind = EVENT_PATHS.get(path)
        if kind is not None:
            return lambda data: kind.translate(kind.model.model_validate(data))
        command = path.removeprefix("result/")
        if command == path or not command or command in NOT_COMMAND_RESULTS:
            return None
        if not RESULT_COMMAND.match(command):
            raise BadInput(400, "unknown result path", limit="a command name of at most 32 characters")
        return lambda data: command_result(command, m.CommandResultEvent.model_validate(data))

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
        except LookupError:  # charset=klingon: Python knows no such codec
            raise BadRequest(400, "unknown charset", charset=str(request.charset)[:40]) from None
        except web.RequestPayloadError as exc:  # Content-Encoding: gzip over bytes that are not
            raise BadRequest(400, "the body could not be decoded", detail=str(exc)[:200]) from None
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
        except RecursionError:
            raise BadRequest(400, "json field is nested too deeply") from None
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
