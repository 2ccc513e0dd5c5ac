"""The one place that talks SQL. asyncpg errors become daemon.errors here."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from daemon.database import UNAVAILABLE_ERRORS
from daemon.domain import DOMAIN_EVENT, Envelope
from daemon.errors import StorageError, StorageUnavailable
from daemon.queries import q


@contextlib.contextmanager
def translated_errors():
    try:
        yield
    except UNAVAILABLE_ERRORS as exc:
        raise StorageUnavailable(f"PostgreSQL unavailable: {exc!r}") from exc
    except asyncpg.PostgresError as exc:
        raise StorageError(f"PostgreSQL error: {exc}") from exc


class Tx:
    """The queries of one transaction on one connection."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn

    async def lock(self, key: str) -> None:
        await self.conn.execute(q("lock_key"), key)

    # -- events -----------------------------------------------------------
    async def insert_inbox(self, env: Envelope) -> bool:
        """Record the event under its dedup key; False when it was already there."""
        row_id = await self.conn.fetchval(
            q("insert_inbox"), env.dedup_key, env.source, env.path, env.raw,
            env.event.kind, env.entry_id, env.call_id, env.event.model_dump_json(),
        )
        return row_id is not None

    async def call_events(self, entry_id: str, kinds: Sequence[str]) -> list[Any]:
        rows = await self.conn.fetch(q("call_events"), entry_id, list(kinds))
        return [DOMAIN_EVENT.validate_json(r["event"]) for r in rows]

    async def communication_links(self, entry_id: str) -> asyncpg.Record | None:
        return await self.conn.fetchrow(q("communication_links"), entry_id)

    async def upsert_communication(self, **values: Any) -> None:
        await self.conn.execute(
            q("upsert_communication"),
            values["entry_id"], values["direction"], values["status"], values["phone"],
            values["phone_raw"], values["contact_id"], values["lead_id"], values["manager_id"],
            values["manager_extension"], list(values["participants"]), values["line_number"],
            values["ad_source"], values["started_at"], values["answered_at"],
            values["ended_at"], values["talk_seconds"], list(values["recording_ids"]),
            values["disconnect_reason"], values["finished"], values["reconciled"],
        )

    # -- lines and managers ----------------------------------------------
    async def ad_source_for_line(self, key: str | None) -> str | None:
        if key is None:
            return None
        return await self.conn.fetchval(q("ad_source_for_line"), key)

    async def upsert_line(self, key: str, line_number: str, ad_source: str) -> None:
        await self.conn.execute(q("upsert_line"), key, line_number, ad_source)

    async def manager_id(self, extension: str) -> int:
        """The manager with this extension, created when first seen."""
        found = await self.conn.fetchval(q("manager_id_by_extension"), extension)
        if found is not None:
            return found
        return await self.conn.fetchval(q("insert_manager"), extension)

    async def upsert_manager(self, *, extension: str, name: str | None, email: str | None,
                             pbx_user_id: int | None) -> bool:
        """Returns True when the manager is new."""
        row = await self.conn.fetchrow(q("upsert_manager"), extension, name, email, pbx_user_id)
        return bool(row["inserted"])

    async def deactivate_managers_except(self, extensions: Sequence[str]) -> list[str]:
        rows = await self.conn.fetch(q("deactivate_managers_except"), list(extensions))
        return [r["extension"] for r in rows]

    # -- contacts and leads ----------------------------------------------
    async def contact_id_by_phone(self, phone: str) -> int | None:
        return await self.conn.fetchval(q("contact_id_by_phone"), phone)

    async def contact_id_by_email(self, email: str) -> int | None:
        return await self.conn.fetchval(q("contact_id_by_email"), email)

    async def create_contact_for_phone(self, phone: str, ad_source: str | None, entry_id: str) -> int:
        return await self.conn.fetchval(q("create_contact_for_phone"), phone, ad_source, entry_id)

    async def fill_created_contact(self, contact_id: int, entry_id: str, ad_source: str | None) -> None:
        await self.conn.execute(q("fill_created_contact"), contact_id, entry_id, ad_source)

    async def insert_contact(self, *, name: str | None, responsible_id: int | None,
                             tags: Sequence[str]) -> int:
        return await self.conn.fetchval(q("insert_contact"), name, responsible_id, list(tags))

    async def update_imported_contact(self, contact_id: int, *, name: str | None,
                                      responsible_id: int | None, tags: Sequence[str]) -> None:
        await self.conn.execute(q("update_imported_contact"), contact_id, name, responsible_id, list(tags))

    async def add_phone(self, phone: str, contact_id: int) -> int:
        """Attach the phone; returns the contact that owns it afterwards."""
        owner = await self.conn.fetchval(q("add_phone"), phone, contact_id)
        return owner if owner is not None else await self.contact_id_by_phone(phone)

    async def add_email(self, email: str, contact_id: int) -> int:
        owner = await self.conn.fetchval(q("add_email"), email, contact_id)
        return owner if owner is not None else await self.contact_id_by_email(email)

    async def open_lead(self, contact_id: int, *, ad_source: str | None, line_number: str | None,
                        entry_id: str) -> int:
        """The contact's open lead, opened now if it has none."""
        opened = await self.conn.fetchval(q("open_lead"), contact_id, ad_source, line_number, entry_id)
        if opened is not None:
            return opened
        return await self.find_open_lead(contact_id)  # type: ignore[return-value]

    async def find_open_lead(self, contact_id: int) -> int | None:
        return await self.conn.fetchval(q("find_open_lead"), contact_id)

    async def fill_opened_lead(self, lead_id: int, entry_id: str, ad_source: str | None,
                               line_number: str | None) -> None:
        await self.conn.execute(q("fill_opened_lead"), lead_id, entry_id, ad_source, line_number)


class Repository:
    """Owns the pool; hands out transactions and answers the read side."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        with translated_errors():
            async with self.pool.acquire() as conn, conn.transaction():
                yield Tx(conn)

    async def ping(self) -> None:
        with translated_errors():
            await self.pool.fetchval("SELECT 1")

    async def contact_card(self, phone: str) -> dict[str, Any] | None:
        with translated_errors():
            row = await self.pool.fetchrow(q("contact_card_by_phone"), phone)
        return dict(row) if row else None

    async def communications(self, *, phone: str | None = None, contact_id: int | None = None,
                             since: datetime | None = None, until: datetime | None = None,
                             limit: int = 100) -> list[dict[str, Any]]:
        with translated_errors():
            if phone is not None:
                rows = await self.pool.fetch(q("communications_by_phone"), phone, since, until, limit)
            else:
                rows = await self.pool.fetch(q("communications_by_contact"), contact_id, since, until, limit)
        return [dict(r) for r in rows]

    async def missed_callers(self, *, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """Missed inbound calls in [since, until), one row per caller, with ``called_back``."""
        with translated_errors():
            rows = await self.pool.fetch(q("missed_callers"), since, until)
        return [dict(r) for r in rows]
