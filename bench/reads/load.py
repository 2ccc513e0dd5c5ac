"""The read benchmark's data set: a mid-size agency's 90 days, from a fixed seed.

At ``scale`` 1: 108,000 contacts with about 146,000 phones and 32,000 open leads
(bench/suite/contacts.py, by ``COPY``), then 27,000 inbound calls (7,430 missed)
and 8,000 outbound ones over 90 days, stored in time order through the
pipeline's own store function (``callbridge_store_calls_v2``, which makes the new
callers' contacts, opens and joins leads and creates the managers), 5,000
inquiries of the other channels, the outcomes of half the leads the calls
opened, and 20,000 trips (half of them won leads' bookings, half old paid trips
of the base, who are the lost clients). Everything scales with ``scale``.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from bench.suite.contacts import LINES, MANAGER_EXTENSIONS, load_base, phone_e164
from daemon.store.queries import q
from daemon.store.repository import Tx

BASE_CONTACTS = 108_000
DAYS = 90
INBOUND, MISSED, OUTBOUND, INQUIRIES, TRIPS = 27_000, 7_430, 8_000, 5_000, 20_000
BATCH = 500
LOST_REASONS = ("Дорого", "Конкуренты", "Передумали", "Не дозвонились", "Перенесли")
CHANNELS = ("web_form", "chat", "telegram", "email")


@dataclass(frozen=True)
class Loaded:
    contacts: int
    identifiers: int
    communications: int
    leads: int
    trips: int
    seconds: float


def _call(n: int, rng: random.Random, *, at: datetime, inbound: bool, missed: bool, phone: str) -> dict[str, Any]:
    number, _source = LINES[rng.randrange(len(LINES))]
    manager = None if missed else rng.choice(MANAGER_EXTENSIONS)
    talk = 0 if missed else rng.randrange(20, 600)
    answered = None if missed else at + timedelta(seconds=rng.randrange(3, 40))
    ended = (answered or at + timedelta(seconds=rng.randrange(5, 60))) + timedelta(seconds=talk)
    return {
        "entry_id": f"bench-reads-{n}", "direction": "inbound" if inbound else "outbound",
        "direction_certain": True, "status": "missed" if missed else "answered", "phone": phone,
        "phone_raw": phone.lstrip("+"), "contact_id": None, "lead_id": None, "manager_extension": manager,
        "participants": [manager] if manager else [], "line_number": number, "line_key": "+" + number,
        "started_at": int(at.timestamp()), "answered_at": int(answered.timestamp()) if answered else None,
        "ended_at": int(ended.timestamp()), "talk_seconds": talk, "recording_ids": [],
        "disconnect_reason": None, "finished": True, "reconciled": False,
    }


def calls(scale: float, *, contacts: int, now: datetime, seed: int) -> list[dict[str, Any]]:
    """The window's calls in time order: 7 in 10 inbound callers known, missed ones mostly called back."""
    rng = random.Random(seed)
    start = now - timedelta(days=DAYS)
    inbound, missed, outbound = int(INBOUND * scale), int(MISSED * scale), int(OUTBOUND * scale)
    made: list[tuple[datetime, bool, bool, str]] = []
    fresh = contacts * 4  # phone indexes beyond the base's: numbers nobody has yet
    for i in range(inbound):
        phone = phone_e164(rng.randrange(contacts) if rng.random() < 0.7 else fresh + rng.randrange(inbound))
        at = start + timedelta(seconds=rng.uniform(0, DAYS * 86400))
        made.append((at, True, i < missed, phone))
        if i < missed and len(made) < inbound + outbound and rng.random() < 0.8:
            made.append((at + timedelta(seconds=rng.expovariate(1 / 3600)), False, False, phone))
    while len(made) < inbound + outbound:
        made.append((start + timedelta(seconds=rng.uniform(0, DAYS * 86400)), False, False,
                     phone_e164(rng.randrange(contacts))))
    made = [m for m in made if m[0] < now]
    made.sort(key=lambda m: m[0])
    return [_call(n, rng, at=at, inbound=inb, missed=mis, phone=phone)
            for n, (at, inb, mis, phone) in enumerate(made)]


# The tables the calls write, analyzed as they grow (as the product's bulk commands
# do at their end): plans made for the nearly empty communications and
# inquiry_facts of the load's start walked whole indexes for every later call.
GROWING = ("communications", "inquiry_facts", "leads", "contacts", "contact_identifiers")


async def store_calls(conn: asyncpg.Connection, rows: list[dict[str, Any]], progress: Any) -> None:
    tx = Tx(conn)
    started = time.perf_counter()
    analyzed_at = BATCH
    for i in range(0, len(rows), BATCH):
        async with conn.transaction():
            await tx.store_calls(rows[i:i + BATCH], lock_keys=[], stale_days=30)
        if (i // BATCH) % 40 == 0:
            progress(f"  calls stored: {i + BATCH:,} of {len(rows):,} ({time.perf_counter() - started:.0f} s)")
        if i + BATCH >= 2 * analyzed_at:  # each time the calls stored have doubled
            analyzed_at = i + BATCH
            for table in GROWING:
                await conn.execute(f"ANALYZE {table}")


FILL_SQL = """
-- Inquiries of the other channels: a known contact, some answered in their conversation.
INSERT INTO communications (entry_id, channel, source, direction, status, contact_id, ad_source, started_at,
                            ended_at, finished, text, replied_at)
SELECT 'bench-reads-inq-' || g, ($4::text[])[1 + g % 4], 'site', 'inbound', 'received',
       1 + (g * 7919) % $2, ($5::text[])[1 + g % 6],
       $3::timestamptz - make_interval(secs => (g * 1553.3) % ($6 * 86400.0)),
       $3::timestamptz - make_interval(secs => (g * 1553.3) % ($6 * 86400.0)), true,
       repeat('Здравствуйте! Хотим тур на двоих в Турцию в июле, бюджет до 200 тысяч. ', 3),
       CASE WHEN g % 3 = 0 THEN NULL
            ELSE $3::timestamptz - make_interval(secs => (g * 1553.3) % ($6 * 86400.0)) + interval '20 minutes' END
FROM generate_series(1, $1::int) AS g;
"""

OUTCOMES_SQL = """
-- Half the leads the calls opened are decided: a third of those won, the rest lost with a reason.
UPDATE leads l SET status = CASE WHEN l.id % 6 = 0 THEN 'won' ELSE 'lost' END,
                   reason = CASE WHEN l.id % 6 = 0 THEN NULL ELSE ($1::text[])[1 + l.id % 5] END,
                   closed_at = l.created_at + interval '3 days'
WHERE l.opened_by_entry_id IS NOT NULL AND l.id % 2 = 0;
"""

TRIPS_SQL = """
-- The won leads' bookings (paid, one in ten cancelled), then old paid trips of the base.
INSERT INTO trips (order_number, contact_id, lead_id, status, amount, starts_on, ends_on, booked_at)
SELECT 'W-' || l.id, l.contact_id, l.id, CASE WHEN l.id % 10 = 0 THEN 'cancelled' ELSE 'paid' END,
       50000 + (l.id * 37) % 250000, (l.closed_at + interval '30 days')::date,
       (l.closed_at + interval '40 days')::date, l.closed_at
FROM leads l WHERE l.status = 'won';
INSERT INTO trips (order_number, contact_id, status, amount, starts_on, ends_on, booked_at)
SELECT 'O-' || g, 1 + (g * 104729) % $2, 'paid', 40000 + (g * 31) % 300000,
       (now() - make_interval(days => (400 + g % 700)::int))::date,
       (now() - make_interval(days => (390 + g % 700)::int))::date,
       now() - make_interval(days => (430 + g % 700)::int)
FROM generate_series(1::bigint, $1::bigint - (SELECT count(*) FROM trips)) AS g
ON CONFLICT DO NOTHING;
"""


async def load(conn: asyncpg.Connection, *, scale: float, calls_scale: float | None = None,
               seed: int = 20261206, progress: Any = print) -> Loaded:
    """``scale`` times the contacts; ``calls_scale`` (default ``scale``) times the 90 days' calls and inquiries."""
    started = time.perf_counter()
    contacts = int(BASE_CONTACTS * scale)
    calls_scale = scale if calls_scale is None else calls_scale
    await load_base(conn, contacts=contacts, seed=seed, progress=progress)
    # The base came by COPY with triggers off: its duplicate candidates are found as
    # `callbridge contacts duplicates --rebuild` finds them (one set-based pass).
    async with conn.transaction():
        await conn.execute(q("candidates_queue_all"))
        candidates = await conn.fetchval(q("candidates_flush"))
    progress(f"  base loaded, candidates of {candidates:,} contacts found ({time.perf_counter() - started:.0f} s)")
    now = datetime.now(UTC)
    await store_calls(conn, calls(calls_scale, contacts=contacts, now=now, seed=seed), progress)
    sources = [source for _number, source in LINES]
    await conn.execute(FILL_SQL, int(INQUIRIES * calls_scale), contacts, now, list(CHANNELS), sources, DAYS)
    await conn.execute(OUTCOMES_SQL, list(LOST_REASONS))
    for statement in TRIPS_SQL.split(";\n")[:2]:
        args = () if "W-" in statement else (int(TRIPS * scale), contacts)
        await conn.execute(statement, *args)
    await conn.execute("VACUUM ANALYZE")
    count = {t: await conn.fetchval(f"SELECT count(*) FROM {t}")  # noqa: S608 (our own table names)
             for t in ("contacts", "contact_identifiers", "communications", "leads", "trips")}
    return Loaded(contacts=count["contacts"], identifiers=count["contact_identifiers"],
                  communications=count["communications"], leads=count["leads"], trips=count["trips"],
                  seconds=time.perf_counter() - started)
