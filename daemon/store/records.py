"""The versioned form of an event on disk (the spool) and in the inbox (``inbox.event``).

Both carry a format version ``"v"``. A spooled envelope or a stored event may
be read by a later callbridge than the one that wrote it: a spool written just
before an upgrade is replayed just after it, and the inbox is read for every
new event of a call. So readers never validate old shapes against today's
model directly; they first upgrade the document step by step
(``UPGRADES[n]`` turns version ``n`` into ``n + 1``), then validate.

To rename a field of an event (say ``at`` of ``recording`` to ``occurred_at``):
bump ``FORMAT_VERSION``, add ``UPGRADES[old] = renamed("recording", "at",
"occurred_at")``, and change the model. Records written before still read.

Version 1 is the shape written before versions existed (no ``"v"`` key).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from daemon.domain.events import DOMAIN_EVENT, Envelope

FORMAT_VERSION = 2
VERSION_KEY = "v"

EventDoc = dict[str, Any]
Upgrade = Callable[[EventDoc], EventDoc]


class UnreadableRecord(ValueError):
    """A spooled or stored record that cannot be made into today's event; the message says why."""


def renamed(kind: str, old: str, new: str) -> Upgrade:
    """An upgrade step: events of ``kind`` have field ``old`` called ``new`` from now on."""

    def step(event: EventDoc) -> EventDoc:
        if event.get("kind") == kind and old in event:
            event = dict(event)
            event[new] = event.pop(old)
        return event

    return step


def _unchanged(event: EventDoc) -> EventDoc:
    return event


# Event-level steps; a spooled envelope's ``event`` goes through the same ones.
UPGRADES: dict[int, Upgrade] = {
    1: _unchanged,  # version 2 only added the version number
}


def upgrade_event(event: EventDoc, version: int, *, upgrades: Mapping[int, Upgrade] = UPGRADES,
                  to: int = FORMAT_VERSION) -> EventDoc:
    """``event`` (a dict written in format ``version``) in format ``to``."""
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise UnreadableRecord(f"format version {version!r} is not a version")
    if version > to:
        raise UnreadableRecord(f"written in format {version} by a newer callbridge (this one reads up to {to})")
    while version < to:
        event = upgrades[version](event)
        version += 1
    return event


# -- the spool ---------------------------------------------------------------------
def dump_envelope(env: Envelope) -> bytes:
    """The spool record of ``env``: its JSON with the format version first."""
    body = env.model_dump_json()
    return f'{{"{VERSION_KEY}":{FORMAT_VERSION},'.encode() + body[1:].encode("utf-8")


def load_envelope(payload: bytes, *, upgrades: Mapping[int, Upgrade] = UPGRADES,
                  to: int = FORMAT_VERSION) -> Envelope:
    """The envelope of a spool record of any format version; UnreadableRecord says why not."""
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UnreadableRecord(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise UnreadableRecord("not a JSON object")
    version = doc.pop(VERSION_KEY, 1)
    if isinstance(doc.get("event"), dict):
        doc["event"] = upgrade_event(doc["event"], version, upgrades=upgrades, to=to)
    else:
        upgrade_event({}, version, upgrades=upgrades, to=to)  # still refuse a version from the future
    try:
        return Envelope.model_validate(doc)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'envelope'}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)[:3]
        )
        raise UnreadableRecord(f"not an event of this format: {problems}") from None


# -- the inbox -----------------------------------------------------------------------
def stored_event_json(event: Any) -> str:
    """``inbox.event``: the domain event's JSON with the format version."""
    return f'{{"{VERSION_KEY}":{FORMAT_VERSION},' + event.model_dump_json()[1:]


# Parsed stored events kept for the next derivation of their call: enough for the events of
# a few hundred calls in progress, a few MB at most.
STORED_EVENT_CACHE = 4096

# How PostgreSQL writes the version back out of jsonb (keys ordered by length: "v" comes first).
_CURRENT_JSONB_HEAD = f'{{"{VERSION_KEY}": {FORMAT_VERSION}, '


def load_stored_event(text: str | bytes) -> Any:
    """The domain event of an ``inbox.event`` of any format version."""
    if isinstance(text, str) and text.startswith(_CURRENT_JSONB_HEAD):
        return _load_current(text)
    doc = json.loads(text)
    version = doc.pop(VERSION_KEY, 1)
    return DOMAIN_EVENT.validate_python(upgrade_event(doc, version))


@functools.lru_cache(maxsize=STORED_EVENT_CACHE)
def _load_current(text: str) -> Any:
    """The common case, read for every event of a call each time one more arrives: no upgrade
    to do, and most of them were read a moment ago. Domain events are frozen, so one parsed
    event may serve every reading of the same text (a call's events are re-read, never changed)."""
    return DOMAIN_EVENT.validate_json("{" + text[len(_CURRENT_JSONB_HEAD):])
