"""Commands for a CRM user: click-to-call and recording links (under /api, bearer token)."""

from __future__ import annotations

import re

import structlog
from aiohttp import web

from adapters.mango.client import RECORDING_NOT_FOUND_CODE, MangoClient, Outcome, PbxApiError
from daemon.domain.errors import BadInput
from daemon.domain.phones import normalise_phone
from daemon.http.boundary import json_response
from daemon.http.inputs import json_object, storable_text
from daemon.runtime.keys import METRICS, PBX_CLIENT, REPOSITORY

log = structlog.get_logger(__name__)

RECORDING_ACTIONS = ("download", "play")
MAX_LINE_CHARS = 64


EXTENSION = re.compile(r"^[0-9A-Za-z_-]{1,32}$")


class CallsApi:
    def __init__(self, *, region: str) -> None:
        self.region = region

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/api/calls", self.click_to_call)
        app.router.add_get("/api/recordings/{recording_id}", self.recording)

    async def click_to_call(self, request: web.Request) -> web.Response:
        """``{"extension": "105", "phone": "<any format>"}`` -> commands/callback; 202, command_id.

        The PBX rings the manager first, then the customer; that call's events
        arrive later with this command_id and join the customer's contact as an
        outbound call.
        """
        body = await json_object(request, example='{"extension": "105", "phone": "..."}')
        extension = str(body.get("extension") or "").strip()
        if not extension:
            raise BadInput(400, "extension is missing")
        if not EXTENSION.match(extension):
            raise BadInput(400, "extension must be 1 to 32 letters, digits, _ or -")
        phone = normalise_phone(storable_text(str(body.get("phone") or ""), "phone"), self.region)
        if phone is None:
            raise BadInput(400, "phone is missing or not a valid phone number")
        line_number = body.get("line_number")
        if line_number is not None:
            line_number = storable_text(str(line_number), "line_number")[:MAX_LINE_CHARS]
        active = await request.app[REPOSITORY].manager_active(extension)
        if not active:
            raise BadInput(422, "no active manager with this extension", extension=extension)
        client: MangoClient = request.app[PBX_CLIENT]
        # The PBX dials numbers as digits without '+' (79161234567).
        outcome = await client.callback(extension, phone.lstrip("+"),
                                        line_number=str(line_number) if line_number else None)
        request.app[METRICS].pbx_api_result("commands/callback", outcome.outcome.value,
                                            status=outcome.status, code=outcome.code)
        log.info("click_to_call", extension=extension, outcome=outcome.outcome.value,
                 command_id=outcome.command_id, pbx_request_id=outcome.request_id)
        if outcome.ok:
            return json_response({"command_id": outcome.command_id, "extension": extension,
                                      "phone": phone}, status=202)
        status = 429 if outcome.outcome is Outcome.RATE_LIMITED else 502
        raise BadInput(status, "the PBX did not accept the call", outcome=outcome.outcome.value,
                       code=outcome.code, command_id=outcome.command_id)

    async def recording(self, request: web.Request) -> web.StreamResponse:
        """302 to a fresh one-shot link from the PBX; the link is never stored (it expires)."""
        recording_id = request.match_info["recording_id"]
        action = request.query.get("action", "download")
        if action not in RECORDING_ACTIONS:
            raise BadInput(400, f"action must be one of {', '.join(RECORDING_ACTIONS)}")
        client: MangoClient = request.app[PBX_CLIENT]
        try:
            link = await client.recording_link(recording_id, action=action)
        except PbxApiError as exc:
            not_found = exc.code == RECORDING_NOT_FOUND_CODE or exc.status == 404
            outcome = exc.outcome.outcome.value if exc.outcome else "other"
            if not_found:
                outcome = "not_found"
            request.app[METRICS].pbx_api_result("queries/recording/post", outcome,
                                                status=exc.status, code=exc.code)
            if not_found:
                raise BadInput(404, "the PBX has no such recording", recording_id=recording_id) from exc
            raise BadInput(502, "the PBX gave no link", outcome=outcome, code=exc.code) from exc
        request.app[METRICS].pbx_api_result("queries/recording/post", "success", status=302)
        return web.Response(status=302, headers={"Location": link, "Cache-Control": "no-store"})
