"""``POST /inquiries/<source>``: every configured sender's webhook, answered once durable.

Order (each answered at once): unknown source (404) -> body size (413) ->
the sender's secret (403, nothing stored) -> the body (400 with the reason)
-> handshake or test (the exact answer the sender expects, nothing stored)
-> durable store through the intake, as PBX events (the sender's answer, or
503 when neither PostgreSQL nor the spool could keep it). A redelivery is a
duplicate in the inbox and gets the same answer.

The source is looked up in the settings of the moment (``Reloader.current``),
so a source added, removed or given a new secret on SIGHUP takes effect at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from aiohttp import web
from pydantic import ValidationError

from adapters import form, jivo, telegram, tilda, vk
from daemon.admission import EventNotStorable
from daemon.errors import StorageError, StorageUnavailable
from daemon.inquiries.delivery import Delivery, Malformed, Refused, Reply, Translated
from daemon.inquiries.submit import envelope, raw_text
from daemon.keys import INTAKE, RELOADER

log = structlog.get_logger(__name__)

Adapter = Callable[[Delivery], Translated]
ADAPTERS: dict[str, Adapter] = {
    "tilda": tilda.translate, "form": form.translate, "jivo": jivo.translate,
    "telegram": telegram.translate, "vk": vk.translate,
}
# Above the PBX webhooks' 64 KiB: a finished Jivo chat carries its whole transcript.
INQUIRY_BODY_LIMIT_BYTES = 1024 * 1024


class BodyTooLarge(Exception):
    pass


async def read_body(request: web.Request, limit: int = INQUIRY_BODY_LIMIT_BYTES) -> bytes:
    """The whole body, refusing more than ``limit`` bytes without reading them all."""
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge
    chunks, size = [], 0
    while chunk := await request.content.readany():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def error(status: int, problem: str, **details: Any) -> web.Response:
    return web.json_response({"error": problem, **details}, status=status)


def validation_problem(exc: ValidationError) -> list[dict[str, str]]:
    return [{"field": ".".join(str(p) for p in e["loc"]) or "body", "problem": e["msg"]}
            for e in exc.errors(include_url=False, include_input=False)[:5]]


def reply_response(reply: Reply) -> web.Response:
    if isinstance(reply.body, dict):
        return web.json_response(reply.body, status=reply.status)
    return web.Response(status=reply.status, text=reply.body or "")


async def inquiry_webhook(request: web.Request) -> web.StreamResponse:
    name = request.match_info["source"]
    started = time.perf_counter()
    # Bound on top of the request's id and route (daemon/boundary.py clears the context per request).
    structlog.contextvars.bind_contextvars(inquiry_source=name)
    source = request.app[RELOADER].current.inquiries.sources.get(name)
    if source is None or source.kind not in ADAPTERS:
        return error(404, "no such inquiry source", source=name[:100])
    try:
        body = await read_body(request)
    except BodyTooLarge:
        return error(413, "body too large", limit_bytes=INQUIRY_BODY_LIMIT_BYTES)
    settings = request.app[RELOADER].current
    delivery = Delivery(source=name, settings=source, query=request.query, headers=request.headers,
                        content_type=request.content_type, body=body, received_at=datetime.now(UTC),
                        region=settings.default_region)
    try:
        translated = ADAPTERS[source.kind](delivery)
    except Refused as exc:
        log.warning("inquiry_refused", reason=str(exc))
        return error(403, str(exc))
    except Malformed as exc:
        log.warning("inquiry_malformed", reason=str(exc))
        return error(400, str(exc))
    except ValidationError as exc:
        return error(400, "invalid inquiry", fields=validation_problem(exc))
    if translated.notes:
        log.info("inquiry_fields_missing", kind=source.kind, notes=list(translated.notes))
    if translated.inquiry is None:
        log.info("inquiry_handshake_or_unused", kind=source.kind)
        return reply_response(translated.reply)
    env = envelope(translated.inquiry, path=request.path, raw=raw_text(body), replied_at=translated.replied_at)
    try:
        outcome = await request.app[INTAKE].accept(env)
    except EventNotStorable as exc:
        log.warning("inquiry_not_storable", problems=exc.problems)
        return error(400, "the database would refuse this inquiry", fields=exc.problems)
    except (StorageUnavailable, StorageError) as exc:
        # StorageError too: a deadlock or a serialisation failure is worth the sender's retry,
        # and it was not stored, so it must not be acknowledged.
        log.error("inquiry_not_stored", error=str(exc))
        return error(503, "storage unavailable, retry later")
    log.info("inquiry_webhook", outcome=outcome, kind=source.kind, external_id=translated.inquiry.external_id,
             elapsed_ms=round((time.perf_counter() - started) * 1000, 2))
    return reply_response(translated.reply)
