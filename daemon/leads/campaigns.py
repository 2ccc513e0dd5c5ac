"""Reactivation campaigns: a segment of the base called by a few managers, one person to one manager.

A campaign freezes its segment at creation (``lost_clients``, ``cold``, ``tag``,
``no_trips``; do-not-call, merged contacts, contacts with an open lead and those
with no phone or e-mail are left out). ``next`` claims for a manager the
highest-scored contact that nobody claimed (in any campaign) or called in the
campaign's ``claim_days``, in one server-side call (``campaign_next_v1``): the row
is taken ``FOR UPDATE SKIP LOCKED`` and the claim is the unique key of
``contact_claims``, so two managers asking at once never get the same person. A
contact found called (or held by another campaign) rests out of the campaign's
index until ``claim_days`` after that, so no later ``next`` walks past him again.
``outcome`` records the manager's word: interested opens the pre-booking (a lead
with ad source «Реактивация»), refused counts its reason, do_not_call marks the
contact. Phone-less contacts with an e-mail go to the mailing list (``mailing.csv``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from config.settings import Settings
from daemon.contacts.score import refresh_contacts
from daemon.domain import readable
from daemon.domain.errors import BadInput
from daemon.http.boundary import plain
from daemon.leads import lost
from daemon.store.queries import q
from daemon.store.repository import translated_errors

SEGMENTS = ("lost_clients", "cold", "tag", "no_trips")
OUTCOMES = ("interested", "refused", "unreachable", "do_not_call")
AD_SOURCE = "Реактивация"
COLD_TAG = "холодный"
# Contacts per statement of a campaign's creation (by id): each well within the statement timeout.
SEGMENT_SLICE = 10_000


class CampaignError(BadInput):
    """A campaign request the input or the campaign's state does not allow."""


@dataclass(frozen=True)
class Segment:
    kind: str
    tag: str | None = None


async def create_campaign(pool: asyncpg.Pool, settings: Settings, *, name: str, segment: Segment,
                          extensions: list[str], claim_days: int, now: datetime | None = None
                          ) -> dict[str, Any]:
    """The campaign and its frozen segment; CampaignError(400) for an unknown manager or a tag missing."""
    if segment.kind == "tag" and not segment.tag:
        raise CampaignError(400, 'segment kind "tag" needs a tag')
    tag = COLD_TAG if segment.kind == "cold" else segment.tag
    lost_ids: list[int] = []
    if segment.kind == "lost_clients":
        lost_ids = [r["contact_id"] for r in await lost.lost_clients(pool, settings, now=now)]
    with translated_errors():
        async with pool.acquire() as conn, conn.transaction():
            known = {r["extension"] for r in await conn.fetch(q("active_managers_by_extension"), extensions)}
            unknown = [e for e in extensions if e not in known]
            if unknown:
                raise CampaignError(400, f"no active manager with extension {', '.join(unknown)}")
            row = await conn.fetchrow(q("campaign_insert"), name,
                                      json.dumps({"kind": segment.kind, "tag": segment.tag}), extensions, claim_days)
            added = []
            last = await conn.fetchval(q("contacts_max_id"))
            for low in range(0, last, SEGMENT_SLICE):
                added += await conn.fetch(q("campaign_segment_insert"), row["id"], segment.kind, lost_ids, tag,
                                          low, low + SEGMENT_SLICE)
    callable_ = sum(1 for r in added if r["has_phone"])
    return {"id": row["id"], "contacts": callable_, "mailing": len(added) - callable_}


def campaign_json(row: asyncpg.Record) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "segment": json.loads(row["segment"]),
            "extensions": list(row["extensions"]), "claim_days": row["claim_days"],
            "created_at": plain(row["created_at"])}


async def campaign(pool: asyncpg.Pool, campaign_id: int) -> asyncpg.Record:
    with translated_errors():
        row = await pool.fetchrow(q("campaign_get"), campaign_id)
    if row is None:
        raise CampaignError(404, f"no campaign {campaign_id}")
    return row


async def campaigns(pool: asyncpg.Pool, extension: str | None) -> list[dict[str, Any]]:
    with translated_errors():
        return [campaign_json(r) for r in await pool.fetch(q("campaigns_list"), extension)]


async def next_contact(pool: asyncpg.Pool, campaign_id: int, extension: str, *,
                       now: datetime | None = None) -> dict[str, Any] | None:
    """Claim the campaign's best free contact for ``extension``; its card, or None when none is left.

    One statement (``campaign_next``): on a busy machine each round trip to PostgreSQL is
    what a claim waits for, so the claim and the card travel together."""
    with translated_errors():
        row = await pool.fetchrow(q("campaign_next"), campaign_id, extension, now or datetime.now(UTC))
    if row["status"] == "no_campaign":
        raise CampaignError(404, f"no campaign {campaign_id}")
    if row["status"] == "not_caller":
        raise CampaignError(403, f"extension {extension} does not call for campaign {campaign_id}")
    return None if row["status"] == "none" else card_json(row)


async def contact_card(conn: asyncpg.Connection | asyncpg.Pool, contact_id: int) -> dict[str, Any]:
    """What the caller sees: phones, e-mails, score and why, trips, the last notes."""
    return card_json(await conn.fetchrow(q("campaign_contact_card"), contact_id))


def card_json(card: asyncpg.Record) -> dict[str, Any]:
    responsible = None
    if card["responsible_extension"] or card["responsible_name"]:
        responsible = {"extension": card["responsible_extension"], "name": card["responsible_name"]}
    trips = [{**{k: v for k, v in t.items() if k != "id"}, "status_text": readable.trip_status(t["status"])}
             for t in json.loads(card["trips"])]
    reasons = json.loads(card["score_reasons"]) if card["score_reasons"] else []
    notes = [{k: v for k, v in n.items() if k != "id"} for n in json.loads(card["notes"])]
    return {
        "contact_id": card["contact_id"], "name": card["name"], "phones": list(card["phones"]),
        "emails": list(card["emails"]), "tags": list(card["tags"]), "score": card["score"],
        "score_reasons": reasons, "score_text": readable.score(card["score"], reasons),
        "preferred_channel": card["preferred_channel"], "birthday": plain(card["birthday"]),
        "responsible": responsible, "trips": trips, "notes": notes,
    }


def checked_outcome(outcome: str, reason: str | None, settings: Settings) -> str | None:
    """The reason to store for ``outcome``; CampaignError(400) when it is missing or not a known one."""
    reason = (reason or "").strip() or None
    if outcome == "refused":
        reasons = settings.campaigns.refusal_reasons
        matched = [r for r in reasons if reason is not None and r.casefold() == reason.casefold()]
        if not matched:
            raise CampaignError(400, f"a refusal needs a reason, one of: {', '.join(reasons)}")
        return matched[0]
    if outcome == "do_not_call" and reason is None:
        raise CampaignError(400, "do_not_call needs a reason")
    return reason


async def record_outcome(pool: asyncpg.Pool, settings: Settings, campaign_id: int, *, contact_id: int,
                         extension: str, outcome: str, reason: str | None,
                         now: datetime | None = None) -> dict[str, Any]:
    """Record the manager's word on a contact of the campaign, with what it implies (a lead, a mark)."""
    await campaign(pool, campaign_id)
    reason = checked_outcome(outcome, reason, settings)
    now = now or datetime.now(UTC)
    with translated_errors():
        async with pool.acquire() as conn, conn.transaction():
            if await conn.fetchval(q("campaign_has_contact"), campaign_id, contact_id) is None:
                raise CampaignError(404, f"contact {contact_id} is not in campaign {campaign_id}")
            lead_id = None
            if outcome == "interested":
                lead_id = await conn.fetchval(q("campaign_open_lead"), contact_id, AD_SOURCE, now,
                                              settings.leads.stale_days)
            elif outcome == "do_not_call":
                await conn.execute(q("set_do_not_call"), contact_id, reason)
            row = await conn.fetchrow(q("campaign_contact_outcome"), campaign_id, contact_id, extension,
                                      outcome, reason, now, lead_id)
            await refresh_contacts(conn, [contact_id], settings, now=now)
    return {"campaign_id": campaign_id, **dict(row)}


async def progress(pool: asyncpg.Pool, campaign_id: int) -> dict[str, Any]:
    row = await campaign(pool, campaign_id)
    with translated_errors():
        figures = await pool.fetchrow(q("campaign_progress"), campaign_id)
    doc = campaign_json(row)
    doc.update({k: figures[k] for k in ("total", "claimed", "reached", "interested", "unreachable", "do_not_call",
                                        "leads_opened", "leads_won")})
    doc["refused"] = dict(sorted(json.loads(figures["refused"]).items()))
    doc["revenue"] = float(figures["revenue"])
    return doc


async def mailing(pool: asyncpg.Pool, campaign_id: int) -> list[asyncpg.Record]:
    await campaign(pool, campaign_id)
    with translated_errors():
        return await pool.fetch(q("campaign_mailing"), campaign_id)
