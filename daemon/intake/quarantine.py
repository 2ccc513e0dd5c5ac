"""The quarantine table: acknowledged events that could not be stored, kept for a person.

A spool record lands here when it cannot be read (a damaged or unknown
format) or when PostgreSQL refuses the event for good. The PBX was already
told 200, so this row is the only trace of the event: it keeps the record
exactly as spooled, the reason, and its dedup key, and ``/health`` warns
while any row has no ``resolved_at``.
"""

from __future__ import annotations

import asyncio
import hashlib

from daemon.store.queries import q
from daemon.store.repository import Repository, translated_errors

MAX_REASON_CHARS = 2000
MAX_KEY_CHARS = 300


def _clean(text: str, limit: int) -> str:
    """Storable text: PostgreSQL refuses NUL and lone surrogates, and a reason may quote either."""
    text = text.replace("\x00", "\\x00")
    return text.encode("utf-8", "backslashreplace").decode("utf-8")[:limit]


async def quarantine(repo: Repository, payload: bytes, *, reason: str, dedup_key: str | None) -> None:
    """Keep ``payload`` with its reason; a repeat of the same payload is kept once."""
    with translated_errors():
        await repo.pool.execute(
            q("quarantine_event"), hashlib.sha256(payload).digest(), _clean(reason, MAX_REASON_CHARS),
            _clean(dedup_key, MAX_KEY_CHARS) if dedup_key else None, payload,
        )


async def open_count(repo: Repository, *, timeout_s: float) -> int:
    """Rows nobody has resolved yet."""
    with translated_errors():
        return int(await asyncio.wait_for(repo.pool.fetchval(q("quarantine_open_count")), timeout_s))
