"""The contact capability's reads and transactions, over the daemon's Repository."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import asyncpg

from daemon.contacts.errors import ContactRefused
from daemon.store.database import translate
from daemon.store.queries import q
from daemon.store.repository import Repository, Tx, translated_errors

T = TypeVar("T")
# SQLSTATE classes that mean "try again" (DESIGN: 40 transaction rollback, e.g. a deadlock).
RETRY_SQLSTATE_CLASSES = ("40",)
TX_ATTEMPTS = 3


class ContactStore:
    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self.pool = repo.pool

    async def in_transaction(self, job: Callable[[Tx], Awaitable[T]]) -> T:
        """Run ``job`` in one transaction; a deadlock or serialization failure is retried.

        Every database error is ours once it leaves, asyncpg's TimeoutError included (it used
        to escape as a 500): sorted by daemon.store.database.translate, a timeout as StorageTimeout.
        """
        for attempt in range(1, TX_ATTEMPTS + 1):
            started = time.monotonic()
            try:
                async with self._transaction() as tx:
                    return await job(tx)
            except Exception as exc:
                retry = isinstance(exc, asyncpg.PostgresError) and str(exc.sqlstate).startswith(
                    RETRY_SQLSTATE_CLASSES)
                ours = None if retry and attempt < TX_ATTEMPTS else translate(exc, started=started)
                if ours is not None:
                    raise ours from exc
                if not retry:
                    raise
        raise AssertionError("unreachable")

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Tx]:
        # Not Repository.transaction: its translation would hide the SQLSTATE we retry on.
        async with self.pool.acquire() as conn, conn.transaction():
            yield Tx(conn)

    async def fetch(self, name: str, *args: Any) -> list[dict[str, Any]]:
        with translated_errors():
            return [dict(r) for r in await self.pool.fetch(q(name), *args)]

    async def fetchrow(self, name: str, *args: Any) -> dict[str, Any] | None:
        with translated_errors():
            row = await self.pool.fetchrow(q(name), *args)
        return dict(row) if row else None

    async def fetchval(self, name: str, *args: Any) -> Any:
        with translated_errors():
            return await self.pool.fetchval(q(name), *args)

    async def execute(self, name: str, *args: Any) -> str:
        with translated_errors():
            return await self.pool.execute(q(name), *args)

    async def card(self, contact_id: int) -> dict[str, Any]:
        """The contact's card (following merges); ContactRefused(404) when none."""
        row = await self.fetchrow("contact_card_by_id", contact_id)
        if row is None:
            raise ContactRefused(404, "no such contact", contact_id=contact_id)
        row["do_not_call"] = json.loads(row["do_not_call"]) if row["do_not_call"] else None
        row["requested_id"] = contact_id
        return row

    async def recent_merges(self, limit: int) -> list[dict[str, Any]]:
        rows = await self.fetch("recent_merges", limit)
        for row in rows:
            row["moved"] = json.loads(row["moved"])
        return rows
