"""``POST /inquiries/<source>``: every configured sender's webhook, answered once durable.

Served by the sender-neutral handler (daemon/intake/webhooks.py), as the PBX's events
are. Order (each answered at once): unknown source (404) -> body size (413) ->
the sender's secret (403, nothing stored) -> the body (400 with the reason)
-> handshake or test (the exact answer the sender expects, nothing stored)
-> durable store through the intake, as PBX events (the sender's answer, or
503 when neither PostgreSQL nor the spool could keep it). A redelivery is a
duplicate in the inbox and gets the same answer.

The source is looked up in the settings of the moment (``Reloader.current``),
so a source added, removed or given a new secret on SIGHUP takes effect at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from aiohttp import web
from pydantic import ValidationError

from adapters import avito, form, greenapi, jivo, telegram, tilda, vk, wazzup
from adapters import max as max_bot
from daemon.domain.delivery import Delivery, Translated
from daemon.domain.errors import BadInput
from daemon.http.boundary import json_response
from daemon.intake import webhooks
from daemon.intake.webhooks import Sender
from daemon.runtime.keys import RELOADER

log = structlog.get_logger(__name__)

Adapter = Callable[[Delivery], Translated]
ADAPTERS: dict[str, Adapter] = {
    "tilda": tilda.translate, "form": form.translate, "jivo": jivo.translate,
    "telegram": telegram.translate, "vk": vk.translate, "max": max_bot.translate, "wazzup": wazzup.translate,
    "greenapi": greenapi.translate, "avito": avito.translate,
}
# Senders that give up on an answer sooner than the intake's budget allows for.
ANSWER_WITHIN_S: dict[str, float] = {"avito": avito.ANSWER_WITHIN_S}
# Above the PBX webhooks' 64 KiB: a finished Jivo chat carries its whole transcript.
INQUIRY_BODY_LIMIT_BYTES = 1024 * 1024


def error(status: int, problem: str, **details: Any) -> web.Response:
    return json_response({"error": problem, **details}, status=status)


def validation_problem(exc: ValidationError) -> list[dict[str, str]]:
    return [{"field": ".".join(str(p) for p in e["loc"]) or "body", "problem": e["msg"]}
            for e in exc.errors(include_url=False, include_input=False)[:5]]


def sender(request: web.Request) -> Sender:
    """The configured source the request names, in the settings of the moment; 404 if none."""
    name = request.match_info["source"]
    # Bound on top of the request's id and route (daemon/http/boundary.py clears the context per request).
    structlog.contextvars.bind_contextvars(inquiry_source=name)
    source = request.app[RELOADER].current.inquiries.sources.get(name)
    if source is None or source.kind not in ADAPTERS:
        raise BadInput(404, "no such inquiry source", source=name[:100])
    return Sender(name=name, kind=source.kind, translate=ADAPTERS[source.kind], settings=source,
                  body_limit_bytes=INQUIRY_BODY_LIMIT_BYTES, log_as="inquiry",
                  not_storable="the database would refuse this inquiry",
                  answer_within_s=ANSWER_WITHIN_S.get(source.kind))


inquiry_webhook = webhooks.handler(sender)
