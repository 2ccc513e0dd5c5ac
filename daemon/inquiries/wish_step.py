"""The projection's wish step: what one message says the tourist wants, laid over the lead's wish.

Runs in the transaction that files the inquiry (daemon/inquiries/projector.py), after the
lead and the communication are known, and for a manager's call note
(daemon/screen/api.py). Parsing is CPU only (docs/BENCHMARKS.md, «Wish parser»: a median
0.4 ms, p99 about 1 ms of CPU per message), so it is done here rather than in a follow-up
task: the wish is there as soon as the inquiry is, and no queue of unparsed messages has
to be kept, retried and watched. Each field carries its message's id and time; a field
of an older message never replaces a newer one's (sql/queries/wishes.sql, ``wish_refine``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime

import asyncpg

from daemon.store.queries import q
from daemon.wishes.model import Wish
from daemon.wishes.parse import parse_inquiry

MAX_PARSED_TEXT_CHARS = 4_000  # a wish is said at the start; an e-mail's quoted thread is not read


def stamped(wish: Wish, *, communication_id: int | None, at: datetime) -> dict[str, dict[str, object]]:
    """The wish's fields as stored: value, words, the communication and the message's time (UTC, ISO)."""
    when = at.astimezone(UTC).isoformat()  # one offset: the stored times compare as text
    return {name: {**found.as_json(), "communication_id": communication_id, "at": when}
            for name, found in wish.items()}


def _read(text: str | None, fields: Iterable[tuple[str, str]], at: datetime) -> Wish:
    """What one message says (its start: an e-mail's quoted thread is not read)."""
    return parse_inquiry((text or "")[:MAX_PARSED_TEXT_CHARS] or None, fields, at)


def message_wish(text: str | None, fields: Iterable[tuple[str, str]], *,
                 at: datetime) -> dict[str, dict[str, object]] | None:
    """What one message says the tourist wants, stamped as stored but for its communication's id,
    which the statement that files the message adds (inquiry_insert_communication); None: nothing."""
    wish = _read(text, fields, at)
    return stamped(wish, communication_id=None, at=at) if wish else None


async def refine_lead_wish(conn: asyncpg.Connection, lead_id: int, *, text: str | None,
                           fields: Iterable[tuple[str, str]] = (), communication_id: int | None,
                           at: datetime) -> Wish:
    """Parse one message and lay what it says over the lead's wish; the fields found."""
    wish = _read(text, fields, at)
    if wish:
        await conn.execute(q("wish_refine"), lead_id,
                           json.dumps(stamped(wish, communication_id=communication_id, at=at), ensure_ascii=False))
    return wish


async def refine_from_note(pool: asyncpg.Pool, communication_id: int, note: str | None) -> Wish:
    """A manager's call note («Хотят Турцию в июне, 2+1…»): what it says, laid over the call's lead's wish.

    The note's time is now, so it refines what the inquiries said before it.
    """
    if not note:
        return {}
    async with pool.acquire() as conn, conn.transaction():
        lead_id = await conn.fetchval(q("wish_note_lead"), communication_id)
        if lead_id is None:
            return {}
        return await refine_lead_wish(conn, lead_id, text=note, communication_id=communication_id,
                                      at=datetime.now(UTC))
