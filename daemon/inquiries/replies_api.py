"""Replies from the screen: ``POST /api/communications/{id}/reply``, the conversation, the templates.

``POST /api/communications/{id}/reply`` takes ``{"text", "extension"}`` or
``{"template", "extension"}`` and answers ``202 {"message_id", "status":
"queued"}`` once the reply is a row of the outbox (durable: the sender sends it
even if this daemon dies next). An ``Idempotency-Key`` header makes a retry
answer the same message (with its status now). A communication with no way to
answer is ``409 {"error": "no reply channel", "phone"}`` (call instead); a text
longer than the channel takes is 400 before anything is queued.

``GET /api/communications/{id}/messages`` lists the conversation in the order callbridge learnt of it:
``[{id, direction, text, at, status, error, extension}]``; a communication from
before the messages were kept shows its text as one inbound message (id null).
``GET /api/templates``: ``[{name, text}]`` from ``[templates]``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, field_validator

from config.settings import Settings
from daemon.domain.errors import BadInput
from daemon.http.boundary import json_response, plain
from daemon.http.inputs import json_model, path_id, query_int, storable_text
from daemon.inquiries.outbox import OutboxStore, Target, fill, reply_channel
from daemon.inquiries.outbox_sender import REPLY_SENDER
from daemon.runtime.keys import METRICS, RELOADER, REPOSITORY
from daemon.store.repository import translated_errors

MAX_KEY_CHARS = 200
MAX_BODY_TEXT_CHARS = 100_000
EXAMPLE = '{"text": "Здравствуйте!", "extension": "101"} or {"template": "greeting", "extension": "101"}'
DEFAULT_MESSAGES = 500


class ReplyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(default=None, max_length=MAX_BODY_TEXT_CHARS)
    template: str | None = Field(default=None, max_length=200)
    extension: str | None = Field(default=None, max_length=50)

    @field_validator("extension", mode="before")
    @classmethod
    def _extension_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/communications/{communication_id}/reply", post_reply)
    app.router.add_get("/api/communications/{communication_id}/messages", get_messages)
    app.router.add_get("/api/templates", get_templates)


async def post_reply(request: web.Request) -> web.Response:
    communication_id = path_id(request, "communication_id")
    body = await json_model(request, ReplyBody, example=EXAMPLE)
    if (body.text is None) == (body.template is None):
        raise BadInput(400, f"give either text or template: {EXAMPLE}")
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 0 < len(storable_text(key, "Idempotency-Key")) <= MAX_KEY_CHARS:
        raise BadInput(400, f"Idempotency-Key must be 1..{MAX_KEY_CHARS} characters")
    extension = storable_text(body.extension, "extension").strip() or None if body.extension else None
    settings = request.app[RELOADER].current
    with translated_errors():
        # One connection for the three reads and the write: each return to the pool costs a reset.
        async with request.app[REPOSITORY].pool.acquire() as conn:
            return await _queue(request, OutboxStore(conn), communication_id, body, key, extension, settings)


async def _queue(request: web.Request, store: OutboxStore, communication_id: int, body: ReplyBody,
                 key: str | None, extension: str | None, settings: Settings) -> web.Response:
    """The reply as a queued row of the outbox; the 202."""
    target = await store.target(communication_id)
    if target is None:
        raise BadInput(404, "no such communication")
    channel = reply_channel(settings, target)
    if channel is None:
        raise BadInput(409, "no reply channel", phone=target.phone)
    text = await _text(store, body, target, extension, templates=settings.templates)
    if len(text) > channel.max_chars:
        raise BadInput(400, f"the text is too long for {channel.kind}: at most {channel.max_chars} characters",
                       chars=len(text), max_chars=channel.max_chars, channel=channel.kind)
    message_id, status, new = await store.enqueue(target=target, channel=channel.kind, kind="reply", text=text,
                                                  extension=extension, idempotency_key=key)
    if new:
        _queued(request.app, channel.kind)
    return json_response({"message_id": message_id, "status": status}, status=202)


async def _text(store: OutboxStore, body: ReplyBody, target: Target, extension: str | None, *,
                templates: dict[str, str]) -> str:
    """The reply's text: as written, or the template with the contact's and the manager's names."""
    if body.template is not None:
        template = templates.get(body.template)
        if template is None:
            raise BadInput(400, "no such template", template=body.template[:200], known=sorted(templates))
        manager = await store.manager_name(extension)
        text = fill(template, {"name": target.contact_name, "manager": manager or extension})
    else:
        text = storable_text(body.text or "", "text").strip()
    if not text:
        raise BadInput(400, "the reply is empty")
    return text


def _queued(app: web.Application, channel: str) -> None:
    metrics = app.get(METRICS)
    if metrics is not None:
        metrics.reply(channel, "queued")
    sender = app.get(REPLY_SENDER)
    if sender is not None:
        sender.wake.set()  # this daemon sends it now; another finds it within poll_interval_s


async def get_messages(request: web.Request) -> web.Response:
    communication_id = path_id(request, "communication_id")
    limit = query_int(request, "limit", default=DEFAULT_MESSAGES, most=5000)
    store = OutboxStore(request.app[REPOSITORY].pool)
    with translated_errors():
        target = await store.target(communication_id)
        if target is None:
            raise BadInput(404, "no such communication")
        rows = await store.conversation(communication_id, limit=limit)
    items: list[dict[str, Any]] = [
        {"id": r["id"], "direction": r["direction"], "kind": r["kind"], "text": r["text"], "at": plain(r["at"]),
         "status": r["status"], "error": r["error"], "extension": r["extension"], "sent_at": plain(r["sent_at"])}
        for r in rows]
    if not items and target.text:
        # Filed before the messages were kept: its text is the customer's, as one message.
        items = [{"id": None, "direction": "in", "kind": "message", "text": target.text,
                  "at": plain(target.started_at), "status": "received", "error": None, "extension": None,
                  "sent_at": None}]
    return json_response(items)


async def get_templates(request: web.Request) -> web.Response:
    templates = request.app[RELOADER].current.templates
    return json_response([{"name": name, "text": text} for name, text in sorted(templates.items())])
