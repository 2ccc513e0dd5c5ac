"""PostgreSQL's errors sorted by SQLSTATE: passing ones are retried or spooled, refused values are 4xx."""

from __future__ import annotations

import asyncpg
import pytest

from daemon.domain.errors import StorageError, StorageRefused, StorageUnavailable
from daemon.store.database import translated_errors

PASSING = ["08006", "40001", "40P01", "53100", "53200", "53300", "57014", "57P01", "57P03", "58030", "25006",
           "55P03"]
REFUSED = ["22012", "22021", "22P02", "23502", "23514"]
# A unique or foreign key violation may be a race with another writer: an error, never the input's fault.
BUGS = ["42P01", "42703", "XX000", "0A000", "23505", "23503"]


async def _raise(pool: asyncpg.Pool, sqlstate: str) -> None:
    """The real server raises an error with this SQLSTATE, as it would for the real condition."""
    with translated_errors():
        await pool.execute(f"DO $$ BEGIN RAISE EXCEPTION 'probe' USING ERRCODE = '{sqlstate}'; END $$")


async def test_each_sqlstate_class_is_sorted_where_it_belongs(pool: asyncpg.Pool) -> None:
    """Passing (admin shutdown, deadlock, read-only, too many connections): unavailable, so spool and
    retry. A value the server refuses: the input's fault. Anything else: an error of ours (500)."""
    for sqlstate in PASSING:
        with pytest.raises(StorageUnavailable):
            await _raise(pool, sqlstate)
    for sqlstate in REFUSED:
        with pytest.raises(StorageRefused) as refused:
            await _raise(pool, sqlstate)
        assert refused.value.sqlstate == sqlstate
    for sqlstate in BUGS:
        with pytest.raises(StorageError) as caught:
            await _raise(pool, sqlstate)
        assert not isinstance(caught.value, StorageRefused), sqlstate


async def test_a_value_the_driver_cannot_encode_is_refused(pool: asyncpg.Pool) -> None:
    """A lone surrogate never reaches the server: asyncpg's own DataError, still the input's fault."""
    with pytest.raises(StorageRefused), translated_errors():
        await pool.fetchval("SELECT $1::text", "a\ud800")
