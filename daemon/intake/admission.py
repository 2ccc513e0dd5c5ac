"""Will PostgreSQL take this event? Asked before the PBX hears 200.

An event may be acknowledged from the spool, long before PostgreSQL sees it.
If the database then refused it, the PBX would never send it again and the
event would be lost. So everything the database checks is checked here first,
for any adapter's events, and an event that fails is answered 400 with the
reason (``EventNotStorable``):

- text: PostgreSQL's ``text`` and ``jsonb`` refuse NUL, and UTF-8 has no lone
  surrogates (they cannot even be sent);
- identifiers are indexed, and a b-tree entry is limited to about 2.7 kB (an
  inquiry's phones, e-mails and messenger ids need no check: what is not a
  valid one, of any length, is kept as an invalid identifier, whose unique
  index holds the text's md5, so PostgreSQL takes the inquiry with it);
- phones: ``contact_phones.phone`` must be ASCII E.164 (its CHECK);
- integers stored in ``integer`` columns, and times PostgreSQL and Python can
  both hold.

What the database still refuses after this goes to the quarantine table
(``daemon.intake.quarantine``), never silently aside.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from daemon.domain.errors import CallbridgeError
from daemon.domain.events import Envelope, Party
from daemon.domain.phones import normalise_phone

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")  # contact_phones' CHECK, ASCII digits only
MAX_KEY_BYTES = 1024  # inbox.dedup_key (unique index)
MAX_ID_BYTES = 512  # entry_id, call_id, recording_id, command_id (indexed)
MAX_TEXT_BYTES = 64 * 1024
# An inquiry's raw request may be a finished Jivo chat with its whole transcript
# (the inquiry endpoints take bodies up to 1 MiB; undecodable bytes grow 3-fold as U+FFFD).
MAX_INQUIRY_TEXT_BYTES = 4 * 1024 * 1024
INT4 = (-(2**31), 2**31 - 1)
MAX_EPOCH_S = 253_402_300_799  # 9999-12-31T23:59:59Z
ID_FIELDS = ("entry_id", "call_id", "recording_id", "command_id", "taken_from_call_id")
INT4_FIELDS = ("disconnect_reason", "result")  # stored in integer columns (others only in jsonb)
TIME_FIELDS = ("at", "created_at", "answered_at", "ended_at")


class EventNotStorable(CallbridgeError):
    """The database would refuse this event: answer 400 with ``problems``."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{p['field']}: {p['problem']}" for p in problems))
        self.problems = problems


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string value in a model dump, with where it is (field names are ours: not walked)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            if item is not None and not isinstance(item, bool | int):
                yield from _strings(item, f"{path}.{key}")
    elif isinstance(value, list | tuple):
        for n, item in enumerate(value):
            yield from _strings(item, f"{path}.{n}")


def _all_text_fine(texts: list[str], limit: int = MAX_TEXT_BYTES) -> bool:
    """One pass over all of them: the common case, every text storable."""
    joined = "\n".join(texts)
    if "\x00" in joined:
        return False
    try:
        joined.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return max(map(len, texts), default=0) <= limit // 4


def _text_problem(text: str, limit: int = MAX_TEXT_BYTES) -> str | None:
    if "\x00" in text:
        return "contains a NUL character"
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        return "contains a lone surrogate (not valid Unicode text)"
    if size > limit:
        return f"longer than {limit} bytes"
    return None


def problems(env: Envelope, *, region: str) -> list[dict[str, str]]:
    """What PostgreSQL would refuse in ``env``; empty when it will take it."""
    found: list[dict[str, str]] = []

    def bad(field: str, problem: str) -> None:
        found.append({"field": field, "problem": problem})

    event = env.event.model_dump()
    texts = [("raw", env.raw), ("dedup_key", env.dedup_key), ("path", env.path), *_strings(event, "event")]
    limit = MAX_INQUIRY_TEXT_BYTES if env.event.kind == "inquiry" else MAX_TEXT_BYTES
    if not _all_text_fine([text for _, text in texts], limit):
        for field, text in texts:
            problem = _text_problem(text, limit)
            if problem:
                bad(field, problem)
        if found:
            return found  # the checks below would only repeat these
    if len(env.dedup_key.encode()) > MAX_KEY_BYTES:
        bad("dedup_key", f"longer than {MAX_KEY_BYTES} bytes")
    for name in ID_FIELDS:
        value = event.get(name)
        if isinstance(value, str) and len(value.encode()) > MAX_ID_BYTES:
            bad(f"event.{name}", f"longer than {MAX_ID_BYTES} bytes")
    for name in INT4_FIELDS:
        value = event.get(name)
        if isinstance(value, int) and not INT4[0] <= value <= INT4[1]:
            bad(f"event.{name}", "out of the integer range")
    for name in TIME_FIELDS:
        value = event.get(name)
        if isinstance(value, int) and not 0 <= value <= MAX_EPOCH_S:
            bad(f"event.{name}", "not a time between 1970 and 9999")
    for name in ("caller", "callee"):
        party = getattr(env.event, name, None)
        if isinstance(party, Party) and party.number:
            phone = normalise_phone(party.number, region)
            if phone is not None and not E164.match(phone):
                bad(f"event.{name}.number", f"{phone!r} is not a phone number PostgreSQL accepts")
    return found


def check(env: Envelope, *, region: str) -> None:
    """Raise EventNotStorable when PostgreSQL would refuse ``env``."""
    found = problems(env, region=region)
    if found:
        raise EventNotStorable(found)
