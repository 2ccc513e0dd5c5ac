"""The inquiry API: ``POST /api/inquiries`` (our own contract), referrals, and the routes.

``POST /api/inquiries`` (bearer token, checked by the /api middleware) takes
``{source, external_id, name, phone, email, telegram, vk, text, page_url,
utm{...}, referrer{name, phone, email}}`` and answers ``201 {communication_id,
contact_id, lead_id, new_contact, new_lead, unreachable}``; the same source and
external_id again is ``200`` with the same ids, read back from what was stored.
While PostgreSQL is away the inquiry is spooled and the answer is ``202``
without ids (it is durable, and filed when the database is back). ``source`` is
a configured ``form`` source or a name no configured source has (the API's
own); the name of a webhook or e-mail source is 409, for a post under it would
make that sender's own delivery of the same id a dropped duplicate.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from daemon.domain.delivery import text
from daemon.domain.errors import BadInput, StorageError, StorageUnavailable
from daemon.domain.inquiry import Inquiry, Referrer, Utm
from daemon.domain.replies import by_email
from daemon.http.boundary import json_response, plain
from daemon.http.inputs import path_id
from daemon.inquiries.endpoints import INQUIRY_BODY_LIMIT_BYTES, inquiry_webhook, validation_problem
from daemon.inquiries.projector import entry_id_of
from daemon.intake.admission import EventNotStorable
from daemon.intake.submit import envelope, raw_text
from daemon.intake.webhooks import read_body
from daemon.runtime.keys import INTAKE, RELOADER, REPOSITORY
from daemon.store.queries import q
from daemon.store.repository import translated_errors

# Configured sources the API may post as: a site may send its form to the webhook or here.
API_MAY_POST_AS = frozenset({"form"})


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ApiUtm(_Loose):
    source: str | None = None
    medium: str | None = None
    campaign: str | None = None
    content: str | None = None
    term: str | None = None


class ApiReferrer(_Loose):
    name: str | None = None
    phone: str | None = None
    email: str | None = None


class ApiInquiry(_Loose):
    source: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    external_id: str | int = Field(union_mode="left_to_right")
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    telegram: str | int | None = None
    vk: str | int | None = None
    max: str | int | None = None
    avito: str | int | None = None
    instagram: str | None = None
    text: str | None = None
    page_url: str | None = None
    utm: ApiUtm | None = None
    referrer: ApiReferrer | None = None

    def inquiry(self, received_at: datetime) -> Inquiry:
        utm = self.utm or ApiUtm()
        ref = self.referrer
        return Inquiry(
            channel="api", source=self.source, external_id=text(self.external_id, limit=500) or "-",
            received_at=received_at, name=text(self.name),
            phones=tuple(p for p in [text(self.phone)] if p), emails=tuple(e for e in [text(self.email)] if e),
            telegram_id=text(self.telegram), vk_id=text(self.vk), max_id=text(self.max), avito_id=text(self.avito),
            instagram_id=text(self.instagram), text=text(self.text, limit=None),
            page_url=text(self.page_url),
            utm=Utm(**{k: text(getattr(utm, k)) for k in ("source", "medium", "campaign", "content", "term")}),
            referrer=Referrer(name=text(ref.name), phone=text(ref.phone), email=text(ref.email)) if ref else None,
            reply_to=by_email(text(self.email)),
        )


def add_routes(app: web.Application) -> None:
    app.router.add_post("/inquiries/{source}", inquiry_webhook)
    app.router.add_post("/api/inquiries", post_inquiry)
    app.router.add_get("/api/contacts/{contact_id}/referrals", referrals)


async def post_inquiry(request: web.Request) -> web.Response:
    body = await read_body(request, INQUIRY_BODY_LIMIT_BYTES)
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadInput(400, "body is not JSON", detail=str(exc)[:120]) from None
    if not isinstance(data, dict):
        raise BadInput(400, "body must be a JSON object")
    try:
        given = ApiInquiry.model_validate(data)
    except ValidationError as exc:
        raise BadInput(400, "invalid inquiry", fields=validation_problem(exc)) from None
    if text(given.external_id) is None:
        raise BadInput(400, "invalid inquiry", fields=[{"field": "external_id", "problem": "must not be empty"}])
    taken = request.app[RELOADER].current.inquiries.sources.get(given.source)
    if taken is not None and taken.kind not in API_MAY_POST_AS:
        # Same source and external id, same dedup key: a post here would make the sender's own
        # delivery a duplicate, dropped. A site may post its form either way; any other name is the API's.
        raise BadInput(409, f"source {given.source!r} is a {taken.kind} source: the API may post as a form "
                          "source or under a name of its own", source=given.source)
    inquiry = given.inquiry(datetime.now(UTC))
    env = envelope(inquiry, path=request.path, raw=raw_text(body))
    try:
        outcome = await request.app[INTAKE].accept(env)
    except EventNotStorable as exc:
        raise BadInput(400, "the database would refuse this inquiry", fields=exc.problems) from None
    except StorageError as exc:
        # Not stored, so not acknowledged: a deadlock is worth the sender's retry, as on the webhook
        # (daemon/inquiries/endpoints.py). StorageUnavailable is daemon/http/boundary.py's 503.
        raise StorageUnavailable(f"inquiry not stored: {exc}") from exc
    # Stored: reading the ids back is a read like any other (a timeout is daemon/http/boundary.py's).
    result = None if outcome == "spooled" else await _result(request, entry_id_of(inquiry))
    if result is None:
        return json_response({"spooled": True, "source": inquiry.source,
                                  "external_id": inquiry.external_id}, status=202)
    return json_response(result, status=201 if outcome == "stored" else 200)


async def _result(request: web.Request, entry_id: str) -> dict[str, Any] | None:
    with translated_errors():
        row = await request.app[REPOSITORY].pool.fetchrow(q("inquiry_result"), entry_id)
    return dict(row) if row else None


async def referrals(request: web.Request) -> web.Response:
    """Whom the contact brought («Рекомендация»)."""
    contact_id = path_id(request, "contact_id")
    pool = request.app[REPOSITORY].pool
    with translated_errors():
        if not await pool.fetchval(q("contact_exists"), contact_id):
            raise BadInput(404, "no such contact")
        rows = await pool.fetch(q("contact_referrals"), contact_id)
    return json_response([
        {"contact_id": r["contact_id"], "name": r["name"], "phones": r["phones"], "emails": r["emails"],
         "communication_id": r["communication_id"], "referred_at": plain(r["created_at"])}
        for r in sorted(rows, key=lambda r: (r["created_at"], r["contact_id"]))
    ])
