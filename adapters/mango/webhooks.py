"""The PBX's webhooks as a translate function, served by daemon/intake/webhooks.py like every sender.

    translate = translator(api_key=..., api_salt=...)   # a ``Delivery`` -> ``Translated``

Order of checks (each answered at once): event path (a result path that is not
a command name: 400; a path we do not use: 200 ``{"result": "ignored"}``) ->
content type (415) -> form fields (400) -> key and sign (403) -> JSON (400) ->
fields (400). Once durable the PBX is answered ``{"result": <outcome>}``; a
redelivery is a duplicate by the event's dedup key and answered the same.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from email.message import Message
from typing import Any
from urllib.parse import parse_qsl

from pydantic import ValidationError

from adapters.mango import models as m
from adapters.mango import translate as t
from adapters.mango.signature import verify
from daemon.domain import multipart
from daemon.domain.delivery import Delivery, Reply, Translated
from daemon.domain.errors import BadInput
from daemon.domain.events import Envelope

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# Stats-ready notifications carry a request key, not a command result.
NOT_COMMAND_RESULTS = frozenset({"stat", "stats"})
MAX_ERRORS_SHOWN = 5
MAX_PATH_LOGGED = 64
SOURCE = t.SOURCE
IGNORED = Translated(None, Reply(200, {"result": "ignored"}))
ANSWER = Reply(200, outcome_as="result")
# Result paths are the PBX's command names ("route", "callback", "sms/send"...):
# anything else (a NUL, a 5,000-character name) is not a result of ours.
RESULT_COMMAND = re.compile(r"^[a-z][a-z0-9_/-]{0,31}$")

BadRequest = BadInput  # the name this module always used
Reader = Callable[[dict[str, Any]], t.Translated]


def translator(*, api_key: str, api_salt: str) -> Callable[[Delivery], Translated]:
    """The PBX's translate function, holding its keys (``vpbx_api_key`` and the salt of ``sign``)."""

    def translate(delivery: Delivery) -> Translated:
        reader = event_reader(delivery.path)
        if reader is None:
            return IGNORED  # the PBX's connection check, or news
        raw = signed_json(delivery, api_key=api_key, api_salt=api_salt)
        translated = parse(raw, reader)
        env = Envelope(source=t.SOURCE, path=delivery.path, raw=raw, dedup_key=translated.dedup_key,
                       event=translated.event)
        return Translated(None, ANSWER, envelope=env)

    return translate


def event_reader(path: str) -> Reader | None:
    """How to read the event posted to ``path`` (under the prefix); None for a path we do not use."""
    kind = t.EVENT_PATHS.get(path)
    if kind is not None:
        return lambda data: kind.translate(kind.model.model_validate(data))
    command = path.removeprefix("result/")
    if command == path or not command or command in NOT_COMMAND_RESULTS:
        return None
    if not RESULT_COMMAND.match(command):
        raise BadInput(400, "unknown result path", limit="a command name of at most 32 characters")
    return lambda data: t.command_result(command, m.CommandResultEvent.model_validate(data))


def path_label(path: str) -> str:
    """A bounded metric label: hostile input must not mint new time series."""
    if path in t.EVENT_PATHS:
        return path
    return "result" if path.startswith("result/") else "other"


def signed_json(delivery: Delivery, *, api_key: str, api_salt: str) -> str:
    """The ``json`` form field, once ``vpbx_api_key`` and ``sign`` prove the PBX sent it."""
    if delivery.content_type not in FORM_TYPES:
        raise BadRequest(415, "expected a form post (application/x-www-form-urlencoded)",
                         content_type=delivery.content_type)
    form = _form(delivery)
    fields = {}
    for name in ("vpbx_api_key", "sign", "json"):
        value = form.get(name)
        if not isinstance(value, str):
            raise BadRequest(400, "missing form field", field=name)
        fields[name] = value
    if not verify(api_key=api_key, api_salt=api_salt, sent_key=fields["vpbx_api_key"],
                  json_text=fields["json"], sent_sign=fields["sign"]):
        raise BadRequest(403, "wrong vpbx_api_key or sign")
    return fields["json"]


def _form(delivery: Delivery) -> dict[str, str]:
    """The form's fields, read as aiohttp's ``Request.post()`` read them (first value wins)."""
    content_type = delivery.headers.get("Content-Type", delivery.content_type)
    if delivery.content_type == "multipart/form-data":
        try:
            return multipart.form_fields(content_type, delivery.body)
        except multipart.MultipartRefused as exc:
            raise BadRequest(400, "malformed form body", detail=str(exc)[:200]) from None
    header = Message()
    header["Content-Type"] = content_type
    charset = header.get_content_charset() or "utf-8"
    try:
        text = delivery.body.rstrip().decode(charset)
        pairs = parse_qsl(text, keep_blank_values=True, encoding=charset)
    except LookupError:  # charset=klingon: Python knows no such codec
        raise BadRequest(400, "unknown charset", charset=charset[:40]) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(400, "malformed form body", detail=str(exc)[:200]) from None
    fields: dict[str, str] = {}
    for key, value in pairs:
        fields.setdefault(key, value)
    return fields


def parse(raw: str, reader: Reader) -> t.Translated:
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
    except t.UnknownValue as exc:
        raise BadRequest(400, "invalid event", fields=[{"field": exc.field, "problem": str(exc)}]) from None
