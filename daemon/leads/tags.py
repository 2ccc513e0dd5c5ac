"""Computed tags kept up to date by ``tags refresh``: «постоянный турист», «холодный», «не звонить»,
«Продажа через встречу» (two leads or more, none won, one lost as «Нерешительный турист») and
«Платный подбор» (a lead lost as «Купил в другом агентстве»).

The tags live in ``contacts.tags`` with the ones managers set, so every lookup,
card and report shows them with no extra query. ``contact_computed_tags``
remembers which ones the refresh put there: it removes only those when their
condition ends, and one of them missing from ``contacts.tags`` was removed by
hand and is recorded in ``contact_tag_removals``, never to be computed back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg

from config.settings import Settings
from daemon.store.queries import q
from daemon.store.repository import translated_errors
from daemon.store.statistics import analyze_written

REGULAR = "постоянный турист"
COLD = "холодный"
DO_NOT_CALL = "не звонить"
# The seeds' tags: an indecisive tourist is sold at a meeting; one who bought elsewhere
# after asking us is offered a paid selection next time.
MEETING = "Продажа через встречу"
PAID_SELECTION = "Платный подбор"
INDECISIVE_REASON = "Нерешительный турист"
BOUGHT_ELSEWHERE_REASON = "Купил в другом агентстве"
COMPUTED_TAGS = (REGULAR, COLD, DO_NOT_CALL, MEETING, PAID_SELECTION)
MAX_TAG_CHARS = 100


@dataclass(frozen=True)
class RefreshReport:
    added: int
    removed_contacts: int
    removals_detected: int

    def line(self) -> str:
        return (f"теги обновлены: добавлено {self.added}, снято у контактов: {self.removed_contacts}, "
                f"снято вручную с прошлого запуска: {self.removals_detected}")


async def refresh_tags(pool: asyncpg.Pool, settings: Settings, *, now: datetime | None = None) -> RefreshReport:
    """Set and remove the computed tags as of ``now``; a second run changes nothing."""
    now = now or datetime.now(UTC)
    with translated_errors():
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(q("tags_lock"))
            detected = await conn.execute(q("tags_detect_removals"))
            changed = await conn.fetch(q("tags_refresh"), now, REGULAR, COLD, DO_NOT_CALL,
                                       settings.leads.tag_regular_min_trips, settings.leads.tag_regular_months,
                                       settings.leads.tag_cold_months, MEETING, PAID_SELECTION,
                                       INDECISIVE_REASON, BOUGHT_ELSEWHERE_REASON)
    await analyze_written(pool, "analyze_tags_refresh")
    return RefreshReport(added=sum(r["added"] for r in changed),
                         removed_contacts=sum(1 for r in changed if r["removed"]),
                         removals_detected=int(detected.rsplit(" ", 1)[-1]))


async def remove_tag(pool: asyncpg.Pool, contact_id: int, tag: str, *, by: str | None) -> list[str] | None:
    """Remove a tag by hand (kept removed by later refreshes); the contact's tags, or None."""
    with translated_errors():
        row = await pool.fetchrow(q("tag_remove_by_hand"), contact_id, tag, by)
    return None if row is None else list(row["tags"])


async def add_tag(pool: asyncpg.Pool, contact_id: int, tag: str) -> list[str] | None:
    """Add a tag by hand (a manager's own, never removed by a refresh); the contact's tags, or None."""
    with translated_errors():
        row = await pool.fetchrow(q("tag_add_by_hand"), contact_id, tag)
    return None if row is None else list(row["tags"])
