"""A million contacts with responsible managers, loaded with COPY into an empty, migrated database."""

from __future__ import annotations

import time

import asyncpg

MANAGERS = tuple(str(200 + i) for i in range(20))
CHUNK_ROWS = 100_000


def phone_digits(index: int) -> str:
    """The ``index``-th contact's phone as the PBX sends it (``7900…``, a valid Russian mobile)."""
    return f"7900{index:07d}"


async def load_contacts(conn: asyncpg.Connection, count: int) -> float:
    """Managers, then ``count`` contacts each with one phone and a responsible manager; seconds taken."""
    started = time.perf_counter()
    await conn.executemany("INSERT INTO managers (id, extension, name) VALUES ($1, $2, $3)",
                           [(i + 1, ext, f"Менеджер {ext}") for i, ext in enumerate(MANAGERS)])
    # The rows are consistent by construction; skipping the foreign-key triggers
    # of this one loading session makes COPY several times faster.
    await conn.execute("SET session_replication_role = replica")
    async with conn.transaction():
        for start in range(0, count, CHUNK_ROWS):
            ids = range(start + 1, min(start + CHUNK_ROWS, count) + 1)
            await conn.copy_records_to_table(
                "contacts", columns=("id", "name", "responsible_id"),
                records=((cid, f"Турист {cid}", cid % len(MANAGERS) + 1) for cid in ids))
            await conn.copy_records_to_table(
                "contact_identifiers", columns=("kind", "value", "contact_id"),
                records=(("phone", "+" + phone_digits(cid - 1), cid) for cid in ids))
    await conn.execute("SET session_replication_role = DEFAULT")
    await conn.execute("SELECT setval('contacts_id_seq', $1)", count)
    await conn.execute("SELECT setval('managers_id_seq', $1)", len(MANAGERS))
    await conn.execute("VACUUM ANALYZE contacts")
    await conn.execute("VACUUM ANALYZE contact_identifiers")
    await conn.execute("ANALYZE managers")
    return time.perf_counter() - started
