"""One webhook handler for every sender: verify -> translate -> make durable -> acknowledge.

A sender is a pure translate function of a ``Delivery`` (``adapters/<sender>/``):
it checks the sender's proof, reads its words and returns the inquiry or the
event with the exact answer the sender expects (daemon/domain/delivery.py); a
sender that batches (Wazzup) returns several inquiries and reply states, each
made durable with its own dedup key before the one answer.
This handler does the rest, the same for all of them: it reads the body within
the sender's limit (413), answers the adapter's refusal (403) or complaint
(400 with the reason), makes the event durable through the intake (PostgreSQL,
or the spool while it cannot take it; 400 when PostgreSQL would refuse it, 503
when nothing could keep it), then answers. One summary line per webhook
(``webhook``) and the event counters, whoever sent it.

Which sender a request is for is the route's business (``Resolve``): the PBX
is one fixed sender under its prefix, an inquiry source is looked up by name in
the settings of the moment.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from aiohttp import web
from pydantic import ValidationError

from config.settings import SourceSettings
from daemon.domain.delivery import Delivery, Malformed, Refused, Reply, Translated
from daemon.domain.errors import BadInput, StorageRefused, StorageUnavailable
from daemon.domain.events import Envelope
from daemon.http.boundary import json_response
from daemon.intake.admission import EventNotStorable
from daemon.intake.durable import Intake
from daemon.intake.submit import envelope, raw_text, status_envelope
from daemon.runtime.keys import INTAKE, METRICS, RELOADER

log = structlog.get_logger(__name__)

MAX_ERRORS_SHOWN = 5


@dataclass(frozen=True, kw_only=True)
class Sender:
    """Who posts to a route and how its words are read."""

    name: str  # the source's name (an inquiry source's key in the settings; "mango")
    kind: str  # its adapter: "mango", "tilda", "form", "jivo", "telegram", "vk", "max", "wazzup", ...
    translate: Callable[[Delivery], Translated]
    body_limit_bytes: int
    settings: SourceSettings | None = None
    # The first word of its log lines (``<log_as>_refused``, ``<log_as>_malformed``, ...).
    log_as: str = "webhook"
    # A bounded metric label for an event it posted to ``path`` (hostile paths mint no series).
    label: Callable[[str], str] = lambda path: "inquiry"
    # The problem a 400 names when PostgreSQL would refuse the event.
    not_storable: str = "event cannot be stored"
    # The sender's own deadline for our answer (Avito: 2 s), if it has one shorter than the
    # intake's database budget allows for: PostgreSQL gets half of it before the event is
    # spooled, so the answer still comes in time.
    answer_within_s: float | None = None


class ClientGone(Exception):
    """The sender hung up before its whole body arrived: nobody to answer, nothing to keep."""


# The request's sender (binding what the log lines should say about it), or BadInput (a 404).
Resolve = Callable[[web.Request], Sender]


async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole body, refusing more than ``limit`` bytes without reading them all."""
    if request.content_length is not None and request.content_length > limit:
        raise BadInput(413, "body too large", limit_bytes=limit)
    chunks, size = [], 0
    try:
        while chunk := await request.content.readany():
            size += len(chunk)
            if size > limit:
                raise BadInput(413, "body too large", limit_bytes=limit)
            chunks.append(chunk)
    except ConnectionResetError:  # aiohttp: "Connection lost" while reading the body
        raise ClientGone from None
    return b"".join(chunks)


def handler(resolve: Resolve) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The route's handler: every request served for the sender ``resolve`` names."""

    async def handle(request: web.Request) -> web.StreamResponse:
        return await _serve(request, resolve(request))

    return handle


async def _serve(request: web.Request, sender: Sender) -> web.StreamResponse:
    path = request.match_info.get("path", "").strip("/")
    started = time.perf_counter()
    metrics = request.app[METRICS]
    kind = sender.label(path)
    try:
        body = await read_body(request, sender.body_limit_bytes)
        translated = _translate(sender, Delivery(
            source=sender.name, settings=sender.settings, query=request.query, headers=request.headers,
            content_type=request.content_type, body=body, received_at=datetime.now(UTC),
            region=request.app[RELOADER].current.default_region, path=path))
        if translated.notes:
            log.info(f"{sender.log_as}_fields_missing", kind=sender.kind, notes=list(translated.notes))
        envs = _envelopes(translated, sender, path=request.path, raw=raw_text(body))
        if not envs:
            log.info(f"{sender.log_as}_handshake_or_unused", kind=sender.kind)
            return _answer(translated.reply, None)
        env = envs[0]
        kind = env.event.kind
        structlog.contextvars.bind_contextvars(entry_id=env.entry_id, call_id=env.call_id)
        budget_s = sender.answer_within_s / 2 if sender.answer_within_s is not None else None
        outcome = await _accept_all(request.app[INTAKE], envs, budget_s=budget_s)
    except web.RequestPayloadError as exc:  # Content-Encoding: gzip over bytes that are not
        bad = BadInput(400, "the body could not be decoded", detail=str(exc)[:200])
        _rejected(request, sender, path, started, bad)
        response = json_response(bad.body, status=bad.status)
        if not request.content.is_eof():
            response.force_close()  # what is left of it cannot be skipped (daemon/http/boundary.py)
        return response
    except ClientGone:
        # Not a failed event and not our error: the sender will send it again.
        log.info("webhook_client_gone", elapsed_ms=_ms(started))
        metrics.client_disconnects.inc()
        return web.Response(status=400)
    except EventNotStorable as exc:  # refused before the answer, rather than lost after it
        log.warning(f"{sender.log_as}_not_storable", problems=exc.problems)
        metrics.event_seen(sender.label(path), "rejected_400", started)
        raise BadInput(400, sender.not_storable, fields=exc.problems) from None
    except StorageRefused as exc:
        # PostgreSQL refused a value the models let through: the event's fault, and
        # answering 5xx would have the sender resend it forever.
        _rejected(request, sender, path, started, BadInput(400, "invalid event", detail=str(exc)[:200]))
        raise BadInput(400, "invalid event", detail="a value was refused by the database") from exc
    except BadInput as exc:
        _rejected(request, sender, path, started, exc)
        raise
    except StorageUnavailable as exc:  # neither PostgreSQL nor the spool could keep it: 503
        log.error("webhook_not_stored", error=str(exc), elapsed_ms=_ms(started))
        metrics.event_seen(kind, "unavailable", started)
        raise
    except Exception:
        # The boundary middleware logs the trace and answers 500 (not stored: the sender retries).
        metrics.event_seen(sender.label(path), "error", started)
        raise
    log.info("webhook", outcome=outcome, kind=kind, elapsed_ms=_ms(started))
    metrics.event_seen(kind, outcome, started)
    return _answer(translated.reply, outcome)


def _envelopes(translated: Translated, sender: Sender, *, path: str, raw: str) -> list[Envelope]:
    """What the delivery makes durable: the ready event, or each inquiry and reply state it carries."""
    if translated.envelope is not None:
        return [translated.envelope]
    envs = [envelope(inquiry, path=path, raw=raw, replied_at=translated.replied_at)
            for inquiry in translated.inquiries]
    return envs + [status_envelope(sender.name, status, path=path, raw=raw) for status in translated.statuses]


async def _accept_all(intake: Intake, envs: list[Envelope], *, budget_s: float | None = None) -> str:
    """Every event durable before the one answer; ``stored`` when any was new (one group commit)."""
    if len(envs) == 1:
        return await intake.accept(envs[0], budget_s=budget_s)
    outcomes = await asyncio.gather(*(intake.accept(env, budget_s=budget_s) for env in envs))
    return next((o for o in outcomes if o == "stored"), outcomes[0])


def _translate(sender: Sender, delivery: Delivery) -> Translated:
    """The adapter's answer; its refusal and complaint as the 4xx they are."""
    try:
        return sender.translate(delivery)
    except Refused as exc:
        raise BadInput(403, str(exc)) from None
    except Malformed as exc:
        raise BadInput(400, str(exc)) from None
    except ValidationError as exc:
        raise BadInput(400, f"invalid {sender.log_as}", fields=[
            {"field": ".".join(str(p) for p in e["loc"]) or "body", "problem": e["msg"]}
            for e in exc.errors(include_url=False, include_input=False)[:MAX_ERRORS_SHOWN]]) from None


def _rejected(request: web.Request, sender: Sender, path: str, started: float, exc: BadInput) -> None:
    event = f"{sender.log_as}_refused" if exc.status == 403 else f"{sender.log_as}_malformed"
    log.warning(event, status=exc.status, reason=exc.body["error"], elapsed_ms=_ms(started))
    metrics = request.app[METRICS]
    if exc.status == 403:
        metrics.signature_failures.inc()
    metrics.event_seen(sender.label(path), f"rejected_{exc.status}", started)


def _answer(reply: Reply, outcome: str | None) -> web.Response:
    if reply.outcome_as is not None:
        return json_response({reply.outcome_as: outcome}, status=reply.status)
    if isinstance(reply.body, dict):
        return json_response(reply.body, status=reply.status)
    return web.Response(status=reply.status, text=reply.body or "")


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
