"""The caller card: what a manager sees about a call, built from PostgreSQL state only.

A ``CallSnapshot`` is read once per call change and turned into one card per
extension the call reached (only the phase differs between them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from daemon.domain.call_state import Leg
from daemon.domain.phones import format_for_people, normalise_phone
from daemon.http.boundary import plain
from daemon.http.lookup import profile_json
from daemon.screen.phase import Phase, legs_of
from daemon.store.queries import q
from daemon.store.repository import Repository, translated_errors

HISTORY_SIZE = 5
INQUIRY_TEXT_SHOWN_CHARS = 1000


@dataclass(frozen=True)
class CallSnapshot:
    call: dict[str, Any]
    legs: list[Leg]
    history: list[dict[str, Any]]
    trips: dict[str, Any] | None = None  # the contact's (screen_contact_trips); None without a contact

    @property
    def entry_id(self) -> str:
        return self.call["entry_id"]

    @property
    def quiet_s(self) -> float:
        """Seconds since the call's newest PBX event was stored."""
        quiet = self.call["quiet_s"]
        return float(quiet) if quiet is not None else float("inf")


async def load_snapshot(repo: Repository, entry_id: str) -> CallSnapshot | None:
    call = await repo.screen_call(entry_id)
    if call is None:
        return None
    legs = legs_of(await repo.screen_legs(entry_id))
    history = await repo.screen_history(
        contact_id=call["contact_id"], phone=call["phone"], exclude_entry_id=entry_id, limit=HISTORY_SIZE
    )
    trips = None
    if call["contact_id"] is not None:
        with translated_errors():
            found = await repo.pool.fetchrow(q("screen_contact_trips"), call["contact_id"])
        trips = dict(found) if found else None
    return CallSnapshot(call=call, legs=legs, history=history, trips=trips)


def trips_json(trips: dict[str, Any] | None) -> dict[str, Any] | None:
    """``{paid, paid_total, last: {starts_on, ends_on, amount, status}}``; None when he never booked."""
    if not trips or (not trips["paid_trips"] and trips["last_status"] is None):
        return None
    last = None
    if trips["last_status"] is not None:
        last = {"starts_on": plain(trips["last_starts_on"]), "ends_on": plain(trips["last_ends_on"]),
                "amount": plain(trips["last_amount"]), "status": trips["last_status"]}
    return {"paid": trips["paid_trips"], "paid_total": plain(trips["paid_total"]), "last": last}


def phone_for_people(e164: str | None, raw: str | None = None) -> str | None:
    """``+79161234567`` -> ``+7 916 123-45-67``; what is not a phone stays as the PBX sent it."""
    if e164:
        return format_for_people(e164)
    return raw or None


def _line_for_people(line_number: str | None, region: str) -> str | None:
    if not line_number:
        return None
    return phone_for_people(normalise_phone(line_number, region), line_number)


def _person(extension: str | None, name: str | None) -> dict[str, Any] | None:
    """A manager as the page shows it; one known by name only (from an import) has no extension yet."""
    return {"extension": extension, "name": name} if extension or name else None


def _history_item(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "direction": row["direction"],
        "status": row["status"],
        "started_at": plain(row["started_at"]),
        "talk_seconds": row["talk_seconds"],
        "manager": _person(row["manager_extension"], row["manager_name"]),
        "note": row["note"],
    }


def card_json(snapshot: CallSnapshot, *, phase: Phase, region: str) -> dict[str, Any]:
    """The card as the WebSocket sends it (times ISO 8601 UTC; the page shows office time)."""
    call = snapshot.call
    contact = None
    if call["contact_id"] is not None:
        contact = {
            "id": call["contact_id"],
            "name": call["contact_name"],
            "is_new": call["contact_name"] is None,
            "tags": list(call["tags"] or []),
            "birthday": plain(call["contact_birthday"]),
            "note": call["contact_note"],
            "trips": trips_json(snapshot.trips),
            **profile_json(call),
        }
    open_lead = None
    if call["open_lead_id"] is not None:
        open_lead = {"id": call["open_lead_id"], "opened_at": plain(call["open_lead_created_at"]),
                     "ad_source": call["open_lead_ad_source"],
                     # None: the funnel's first stage (GET /api/funnel/stages lists them).
                     "stage": call["open_lead_stage"]}
    answered_by = None
    if call["status"] == "answered":
        answered_by = _person(call["manager_extension"], call["manager_name"])
    return {
        "entry_id": call["entry_id"],
        "communication_id": call["id"],
        "phase": phase,
        "direction": call["direction"],
        "status": call["status"],
        "phone": phone_for_people(call["phone"], call["phone_raw"]),
        "phone_e164": call["phone"],
        "contact": contact,
        "responsible": _person(call["responsible_extension"], call["responsible_name"]),
        "open_lead": open_lead,
        "ad_source": call["ad_source"] or call["contact_ad_source"],
        "line": _line_for_people(call["line_number"], region),
        "answered_by": answered_by,
        "started_at": plain(call["started_at"]),
        "answered_at": plain(call["answered_at"]),
        "ended_at": plain(call["ended_at"]),
        "talk_seconds": call["talk_seconds"],
        "note": call["note"],
        "history": [_history_item(row) for row in snapshot.history],
        # Inquiries (forms, chats): the channel, the sender and the start of what was written.
        "channel": call.get("channel", "call"),
        "source": call.get("source"),
        "email": call.get("email"),
        "text": (call.get("text") or "")[:INQUIRY_TEXT_SHOWN_CHARS] or None,
    }
