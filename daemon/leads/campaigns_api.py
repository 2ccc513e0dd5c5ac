"""/api/campaigns: create, list, ``next``, ``outcome``, progress and the mailing list (daemon/leads/campaigns.py)."""

from __future__ import annotations

import csv
import io
from typing import Literal

from aiohttp import web
from pydantic import Field

from daemon.http.boundary import json_response
from daemon.http.inputs import json_model, path_id
from daemon.leads import campaigns
from daemon.leads.fields import Body, Extension
from daemon.report.render import csv_safe
from daemon.runtime.keys import RELOADER, REPOSITORY

MAX_NAME_CHARS = 200
MAX_TAG_CHARS = 100
MAX_REASON_CHARS = 500


class SegmentBody(Body):
    kind: Literal["lost_clients", "cold", "tag", "no_trips"]
    tag: str | None = Field(default=None, min_length=1, max_length=MAX_TAG_CHARS)


class CampaignBody(Body):
    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS)
    segment: SegmentBody
    extensions: list[Extension] = Field(min_length=1, max_length=100)
    claim_days: int | None = Field(default=None, ge=1, le=365)


class NextBody(Body):
    extension: Extension


class OutcomeBody(Body):
    contact_id: int = Field(ge=1, le=2**63 - 1)
    extension: Extension
    outcome: Literal["interested", "refused", "unreachable", "do_not_call"]
    reason: str | None = Field(default=None, max_length=MAX_REASON_CHARS)


async def create(request: web.Request) -> web.Response:
    body = await json_model(request, CampaignBody, example='{"name": "…", "segment": {"kind": "lost_clients"}, '
                                                             '"extensions": ["105"], "claim_days": 30}')
    settings = request.app[RELOADER].current
    created = await campaigns.create_campaign(
        request.app[REPOSITORY].pool, settings, name=body.name.strip() or body.name,
        segment=campaigns.Segment(kind=body.segment.kind, tag=body.segment.tag),
        extensions=list(dict.fromkeys(body.extensions)),
        claim_days=body.claim_days or settings.campaigns.claim_days)
    return json_response(created, status=201)


async def listing(request: web.Request) -> web.Response:
    extension = request.query.get("extension") or None
    return json_response(await campaigns.campaigns(request.app[REPOSITORY].pool, extension))


async def show(request: web.Request) -> web.Response:
    return json_response(await campaigns.progress(request.app[REPOSITORY].pool, path_id(request, "campaign_id")))


async def next_contact(request: web.Request) -> web.Response:
    campaign_id = path_id(request, "campaign_id")
    body = await json_model(request, NextBody, example='{"extension": "105"}')
    card = await campaigns.next_contact(request.app[REPOSITORY].pool, campaign_id, body.extension)
    if card is None:
        return web.Response(status=204)
    return json_response(card)


async def outcome(request: web.Request) -> web.Response:
    campaign_id = path_id(request, "campaign_id")
    body = await json_model(request, OutcomeBody, example='{"contact_id": 1, "extension": "105", '
                                                          '"outcome": "refused", "reason": "Переезд"}')
    answer = await campaigns.record_outcome(
        request.app[REPOSITORY].pool, request.app[RELOADER].current, campaign_id, contact_id=body.contact_id,
        extension=body.extension, outcome=body.outcome, reason=body.reason)
    return json_response(answer)


async def reasons(request: web.Request) -> web.Response:
    return json_response({"reasons": list(request.app[RELOADER].current.campaigns.refusal_reasons)})


async def mailing_csv(request: web.Request) -> web.Response:
    rows = await campaigns.mailing(request.app[REPOSITORY].pool, path_id(request, "campaign_id"))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(("contact_id", "name", "email"))
    for row in rows:
        writer.writerow((row["contact_id"], csv_safe(row["name"] or ""), csv_safe(row["email"] or "")))
    return web.Response(text=out.getvalue(), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": 'attachment; filename="mailing.csv"'})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/campaigns", create)
    app.router.add_get("/api/campaigns", listing)
    app.router.add_get("/api/campaigns/reasons", reasons)
    app.router.add_get(r"/api/campaigns/{campaign_id:\d+}", show)
    app.router.add_post(r"/api/campaigns/{campaign_id:\d+}/next", next_contact)
    app.router.add_post(r"/api/campaigns/{campaign_id:\d+}/outcome", outcome)
    app.router.add_get(r"/api/campaigns/{campaign_id:\d+}/mailing.csv", mailing_csv)
