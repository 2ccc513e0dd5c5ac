"""The two per-event costs measured on their own: the phone lookup and number normalisation."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass

import asyncpg

from bench.suite.contacts import NUMBER_SPACE, phone_digits, phone_e164
from bench.suite.stats import median, percentile
from daemon.domain.phones import normalise_phone
from daemon.store.repository import Tx


@dataclass(frozen=True)
class Lookup:
    contacts: int
    lookups: int
    hit_share: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    runs: int
    server_p50_ms: float = float("nan")  # the index probe alone, timed inside PostgreSQL
    server_p99_ms: float = float("nan")


async def lookup_latency(conn: asyncpg.Connection, *, contacts: int, base_phones: int, lookups: int,
                         runs: int, seed: int = 7) -> Lookup:
    """``contact_id_by_phone`` through the repository, one at a time, after a warm-up pass.

    Nine lookups in ten are of known phones, one of an unknown number (a new caller).
    """
    rng = random.Random(seed)
    phones = [phone_e164(rng.randrange(base_phones)) if rng.random() < 0.9
              else phone_e164(rng.randrange(base_phones, NUMBER_SPACE)) for _ in range(lookups)]
    tx = Tx(conn)
    hits = 0
    for phone in phones:  # warm-up: the same phones, so the pages they need are cached
        hits += await tx.contact_id_by_phone(phone) is not None
    p50s, p99s, maxes = [], [], []
    for _ in range(runs):
        rng.shuffle(phones)
        took = []
        for phone in phones:
            t = time.perf_counter_ns()
            await tx.contact_id_by_phone(phone)
            took.append((time.perf_counter_ns() - t) / 1e6)
        p50s.append(percentile(took, 50))
        p99s.append(percentile(took, 99))
        maxes.append(max(took))
    server = await _server_side(conn, phones)
    return Lookup(contacts=contacts, lookups=lookups, hit_share=hits / lookups, p50_ms=median(p50s),
                  p99_ms=median(p99s), max_ms=median(maxes), runs=runs,
                  server_p50_ms=percentile(server, 50), server_p99_ms=percentile(server, 99))


# Times each probe inside the server, so that the figure leaves out the round trip
# and the client's and server's waits for a CPU on a busy machine.
_TIME_LOOKUPS = """
CREATE FUNCTION pg_temp.bench_time_lookups(phones text[]) RETURNS SETOF float8
LANGUAGE plpgsql AS $$
DECLARE p text; t timestamptz; found bigint;
BEGIN
    FOREACH p IN ARRAY phones LOOP
        t := clock_timestamp();
        SELECT contact_id INTO found FROM contact_identifiers WHERE kind = 'phone' AND value = p;
        RETURN NEXT extract(epoch FROM clock_timestamp() - t) * 1000;
    END LOOP;
END $$;
"""


async def _server_side(conn: asyncpg.Connection, phones: list[str]) -> list[float]:
    await conn.execute(_TIME_LOOKUPS)
    rows = await conn.fetch("SELECT * FROM pg_temp.bench_time_lookups($1::text[])", phones)
    return [r[0] for r in rows]


# How people and the PBX write one number.
FORMATS = (
    lambda d: d,                                                   # 79161234567 (the PBX)
    lambda d: f"8 ({d[1:4]}) {d[4:7]}-{d[7:9]}-{d[9:]}",           # 8 (916) 123-45-67
    lambda d: f"+7 {d[1:4]} {d[4:]}",                              # +7 916 1234567
    lambda d: d[1:],                                               # 9161234567
    lambda d: f"sip:{d}@trunk.example",                            # SIP URI of a number
)


@dataclass(frozen=True)
class Normalisation:
    numbers: int
    cold_us: float          # distinct numbers, the cache bypassed (the real work)
    cold_cached_us: float   # distinct numbers through the lru_cache (miss + insert)
    warm_us: float          # a number seen before (cache hit)
    runs: int


def normalisation_cost(*, numbers: int, runs: int, seed: int = 11) -> Normalisation:
    rng = random.Random(seed)
    raw = [rng.choice(FORMATS)(phone_digits(rng.randrange(NUMBER_SPACE))) for _ in range(numbers)]
    uncached = normalise_phone.__wrapped__
    cold, cold_cached, warm = [], [], []
    for _ in range(runs):
        t = time.perf_counter()
        for text in raw:
            uncached(text, "RU")
        cold.append((time.perf_counter() - t) / numbers * 1e6)
        normalise_phone.cache_clear()
        subset = raw[:4_000]  # fits the cache, so the second pass only hits
        t = time.perf_counter()
        for text in subset:
            normalise_phone(text, "RU")
        cold_cached.append((time.perf_counter() - t) / len(subset) * 1e6)
        t = time.perf_counter()
        for text in subset:
            normalise_phone(text, "RU")
        warm.append((time.perf_counter() - t) / len(subset) * 1e6)
    assert all(uncached(text, "RU") for text in raw[:1000]), "generated numbers must be valid"
    return Normalisation(numbers=numbers, cold_us=median(cold), cold_cached_us=median(cold_cached),
                         warm_us=median(warm), runs=runs)
