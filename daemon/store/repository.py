"""The one place that talks SQL. asyncpg errors become daemon.domain.errors here."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from daemon.domain.errors import StorageUnavailable
from daemon.domain.events import Envelope
from daemon.store.database import translated_errors  # errors sorted by SQLSTATE
from daemon.store.queries import q
from daemon.store.records import load_stored_event, stored_event_json

# A call's events, its communication's contact_id and lead_id, and whether it was pruned.
CallState = tuple[list[Any], int | None, int | None, bool]


LEAD_STALE_DAYS = 30  # the lead_stale_days setting's default


class Tx:
    """The queries of one transaction on one connection."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self.conn = conn
        # The advisory lock keys this transaction holds (taken through this object): a
        # later step skips them (merges), and takes none out of the one order for nothing.
        self.held: set[str] = set()

    async def lock(self, key: str) -> None:
        await self.conn.execute(q("lock_key"), key)
        self.held.add(key)

    async def lock_keys(self, keys: Sequence[str]) -> None:
        """Take the advisory locks of all ``keys`` (as ``lock``) in one round trip, in the one
        order (``callbridge_lock_v1``, migration 0018)."""
        await self.conn.execute(q("lock_keys"), list(keys))
        self.held.update(keys)

    @contextlib.asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A savepoint: an error inside rolls back only what was done inside (StorageError),
        the locks taken inside included."""
        held = set(self.held)
        try:
            with translated_errors():
                async with self.conn.transaction():
                    yield
        except BaseException:
            self.held = held
            raise

    # -- events -----------------------------------------------------------
    async def ingest(self, envs: Sequence[Envelope], *, lock_keys: Sequence[str],
                     kinds: Sequence[str]) -> tuple[set[str], dict[str, CallState]]:
        """Take ``lock_keys`` (sorted, in the database), put the events in the inbox, and read
        back every call that got a new event of ``kinds``, in one round trip
        (``callbridge_ingest_v2``, migration 0018). Returns the dedup keys that went in (a
        repeat, even of one earlier in ``envs``, does not) and those calls' states by entry_id."""
        columns: tuple[list[Any], ...] = ([], [], [], [], [], [], [], [])
        for env in envs:
            for column, value in zip(columns, (
                    env.dedup_key, env.source, env.path, env.raw, env.event.kind, env.entry_id,
                    env.call_id, stored_event_json(env.event)), strict=True):
                column.append(value)
        rows = await self.conn.fetch(q("ingest"), *columns, list(lock_keys), list(kinds))
        self.held.update(lock_keys)
        inserted = {r["dedup_key"] for r in rows if r["entry_id"] is None}
        states = {r["entry_id"]: ([load_stored_event(e) for e in r["events"]], r["contact_id"], r["lead_id"],
                                  r["pruned"]) for r in rows if r["entry_id"] is not None}
        return inserted, states

    async def call_state(self, entry_id: str, kinds: Sequence[str]) -> CallState:
        """The call's events of ``kinds`` in stored order, its communication's contact_id and
        lead_id, and whether its older events were pruned (retention)."""
        row = await self.conn.fetchrow(q("call_state"), entry_id, list(kinds))
        events = [load_stored_event(e) for e in row["events"]]
        return events, row["contact_id"], row["lead_id"], row["pruned"]

    async def store_calls(self, rows: Sequence[dict[str, Any]], *, lock_keys: Sequence[str],
                          stale_days: int) -> list[tuple[str, int]]:
        """Take ``lock_keys`` (the batch's identifier keys, in the one order), then link and
        upsert derived calls (``callbridge_store_calls_v2``, migration 0018: the keys of each
        row are its JSON object's); returns the contacts made, as (entry_id, contact_id)."""
        found = await self.conn.fetch(q("store_calls"), json.dumps(rows, ensure_ascii=False),
                                      list(lock_keys), stale_days)
        self.held.update(lock_keys)
        return [(r["entry_id"], r["created_contact_id"]) for r in found]

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
        """Returns True when the manager is new. A manager known by name only (from an
        import) with the employee's name becomes this one: never a second manager."""
        claimed = await self.conn.fetchval(q("claim_named_manager"), extension, name, email, pbx_user_id)
        if claimed is not None:
            return False
        row = await self.conn.fetchrow(q("upsert_manager"), extension, name, email, pbx_user_id)
        if name is not None:
            for step in ("relink_named_manager_contacts", "relink_named_manager_journal", "delete_named_manager"):
                await self.conn.execute(q(step), row["id"], name)
        return bool(row["inserted"])

    async def deactivate_managers_except(self, extensions: Sequence[str]) -> list[str]:
        rows = await self.conn.fetch(q("deactivate_managers_except"), list(extensions))
        return [r["extension"] for r in rows]

    # -- contacts and leads ----------------------------------------------
    async def contact_id_by_phone(self, phone: str) -> int | None:
        return await self.conn.fetchval(q("contact_id_by_phone"), phone)

    async def insert_contact(self, *, name: str | None, responsible_id: int | None,
                             tags: Sequence[str]) -> int:
        return await self.conn.fetchval(q("insert_contact"), name, responsible_id, list(tags))

    async def update_imported_contact(self, contact_id: int, *, name: str | None,
                                      responsible_id: int | None, tags: Sequence[str]) -> None:
        await self.conn.execute(q("update_imported_contact"), contact_id, name, responsible_id, list(tags))

    async def add_invalid_identifier(self, contact_id: int, kind: str, value: str, reason: str) -> None:
        await self.conn.execute(q("add_invalid_identifier"), contact_id, kind, value, reason)

    async def open_lead(self, contact_id: int, *, ad_source: str | None, line_number: str | None,
                        entry_id: str, at: datetime | None = None,
                        stale_days: int = LEAD_STALE_DAYS) -> int:
        """The contact's open lead, joined, or a new one naming the contact's previous lead.

        ``at`` is the communication's own time (None: now). An open lead with no
        activity for ``stale_days`` before ``at`` is archived here and then, so
        that the answer does not depend on the nightly `leads archive` having run.
        (``callbridge_open_lead_v1``, migration 0018.)
        """
        return await self.conn.fetchval(q("open_lead"), contact_id, ad_source, line_number, entry_id,
                                        at, stale_days)


class Repository:
    """Owns the pool; hands out transactions and answers the read side."""

    def __init__(self, pool: asyncpg.Pool | None = None) -> None:
        # None until PostgreSQL first answers: the daemon starts (and spools) without it,
        # and daemon.runtime.connect attaches the pool once it is open.
        self._pool = pool

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StorageUnavailable("PostgreSQL not connected yet")
        return self._pool

    @property
    def connected(self) -> bool:
        return self._pool is not None

    def attach(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        with translated_errors():
            async with self.pool.acquire() as conn, conn.transaction():
                yield Tx(conn)

    async def ping(self) -> None:
        with translated_errors():
            await self.pool.fetchval("SELECT 1")

    async def contact_card(self, kind: str, value: str) -> dict[str, Any] | None:
        """The card of whoever holds the identifier, or None."""
        with translated_errors():
            row = await self.pool.fetchrow(q("contact_card_by_identifier"), kind, value)
        if row is None:
            return None
        card = dict(row)
        card["do_not_call"] = json.loads(card["do_not_call"]) if card["do_not_call"] else None
        return card

    async def communications(self, *, phone: str | None = None, contact_id: int | None = None,
                             since: datetime | None = None, until: datetime | None = None,
                             limit: int = 100) -> list[dict[str, Any]]:
        with translated_errors():
            if phone is not None:
                rows = await self.pool.fetch(q("communications_by_phone"), phone, since, until, limit)
            else:
                rows = await self.pool.fetch(q("communications_by_contact"), contact_id, since, until, limit)
        return [dict(r) for r in rows]

    async def health_probe(self, *, timeout_s: float) -> dict[str, Any]:
        """Schema version, time of the newest inbox event, and the database's clock.

        Bounded as a whole (waiting for a connection included), so that /health
        answers within seconds when PostgreSQL is gone.
        """
        with translated_errors():
            row = await asyncio.wait_for(self.pool.fetchrow(q("health_probe")), timeout=timeout_s)
        return dict(row) if row else {}

    async def known_entry_ids(self, entry_ids: Sequence[str]) -> set[str]:
        """Those of ``entry_ids`` that already have a communication."""
        with translated_errors():
            rows = await self.pool.fetch(q("known_entry_ids"), list(entry_ids))
        return {r["entry_id"] for r in rows}

    async def entries_with_live_summary(self, entry_ids: Sequence[str]) -> set[str]:
        """Those of ``entry_ids`` whose PBX summary (not a reconciled one) is stored."""
        with translated_errors():
            rows = await self.pool.fetch(q("entries_with_live_summary"), list(entry_ids))
        return {r["entry_id"] for r in rows}

    async def missed_callers(self, *, since: datetime, until: datetime) -> list[dict[str, Any]]:
        """Missed inbound calls in [since, until), one row per caller, with ``called_back``."""
        with translated_errors():
            rows = await self.pool.fetch(q("missed_callers"), since, until)
        return [dict(r) for r in rows]

    # -- routing -------------------------------------------------------------
    async def claim_call_and_find_responsible(self, *, call_id: str, entry_id: str, command_id: str,
                                              phone: str | None, dedup_key: str) -> dict[str, Any]:
        """Claim the leg for this daemon, and in the same round trip: the caller's contact and
        its responsible manager (extension, active), and whether the caller has left the IVR
        (``moved_on``) and for how long the Appeared event has been stored (``age_s``)."""
        with translated_errors():
            row = await self.pool.fetchrow(q("claim_call_and_find_responsible"),
                                           call_id, entry_id, command_id, phone, dedup_key)
        return dict(row)  # the query always returns one row

    async def reserve_route_slot(self, *, interval_s: float, tolerance_s: float,
                                 max_wait_s: float) -> float | None:
        """Take the next slot of the shared route limit if it starts within ``max_wait_s``:
        the seconds to wait for it (0: go now), or None when it is further off (nothing taken)."""
        with translated_errors():
            return await self.pool.fetchval(q("reserve_route_slot"), interval_s, tolerance_s, max_wait_s)

    async def route_progress(self, *, call_id: str, dedup_key: str, entry_id: str) -> tuple[bool, float]:
        """(has the caller left the IVR, seconds since the Appeared event was stored)."""
        with translated_errors():
            row = await self.pool.fetchrow(q("route_progress"), call_id, dedup_key, entry_id)
        return bool(row["moved_on"]), float(row["age_s"] if row["age_s"] is not None else 0.0)

    async def record_route_outcome(self, *, call_id: str, reason: str, target: str | None,
                                   routed_to: str | None, pbx_outcome: str | None, sent: bool) -> None:
        with translated_errors():
            await self.pool.execute(q("record_route_outcome"), call_id, reason, routed_to, pbx_outcome,
                                    sent, target)

    async def record_route_result(self, command_id: str, result: int) -> None:
        """The PBX's /result/route: kept on the decision and on the communication."""
        with translated_errors():
            await self.pool.execute(q("record_route_result"), command_id, result)

    async def manager_active(self, extension: str) -> bool | None:
        """True/False for a known manager, None for an extension nobody has."""
        with translated_errors():
            return await self.pool.fetchval(q("manager_active"), extension)

    # -- the manager's screen (daemon/screen) ------------------------------------
    async def screen_call(self, entry_id: str) -> dict[str, Any] | None:
        """One call with its contact, responsible manager and open lead, for a caller card."""
        with translated_errors():
            row = await self.pool.fetchrow(q("screen_call"), entry_id)
        return dict(row) if row else None

    async def screen_legs(self, entry_id: str) -> list[Any]:
        """The call's leg events (CallLegChanged), oldest stored first."""
        with translated_errors():
            rows = await self.pool.fetch(q("screen_call_legs"), entry_id)
        return [load_stored_event(r["event"]) for r in rows]

    async def screen_history(self, *, contact_id: int | None, phone: str | None, exclude_entry_id: str,
                             limit: int) -> list[dict[str, Any]]:
        """The latest communications of the contact (else of the phone), but the given call."""
        if contact_id is None and phone is None:
            return []
        with translated_errors():
            if contact_id is not None:
                rows = await self.pool.fetch(q("screen_history_by_contact"), contact_id, exclude_entry_id, limit)
            else:
                rows = await self.pool.fetch(q("screen_history_by_phone"), phone, exclude_entry_id, limit)
        return [dict(r) for r in rows]

    async def screen_live_entries(self, since: datetime) -> list[str]:
        """entry_ids of calls that started after ``since`` and are not over."""
        with translated_errors():
            rows = await self.pool.fetch(q("screen_live_entries"), since)
        return [r["entry_id"] for r in rows]

    async def screen_manager(self, extension: str) -> dict[str, Any] | None:
        with translated_errors():
            row = await self.pool.fetchrow(q("screen_manager"), extension)
        return dict(row) if row else None

    async def set_communication_note(self, communication_id: int, note: str | None) -> dict[str, Any] | None:
        """Save «Примечание»; None when there is no such communication."""
        with translated_errors():
            row = await self.pool.fetchrow(q("set_communication_note"), communication_id, note)
        return dict(row) if row else None

    async def set_contact_name(self, contact_id: int, name: str) -> dict[str, Any] | None:
        """Name a contact (a new caller); None when there is no such contact."""
        with translated_errors():
            row = await self.pool.fetchrow(q("set_contact_name"), contact_id, name)
        return dict(row) if row else None
