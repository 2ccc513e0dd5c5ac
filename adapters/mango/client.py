"""Signed requests to the PBX's API (``https://app.mango-office.ru/vpbx/<path>``).

Commands (route, callback, hangup) answer with a typed ``CommandOutcome``
instead of raising: a refused or failed command is an everyday event for the
caller of a command, who decides what to do with each kind. ``post`` (queries
whose answer is needed, like the user list) still raises ``PbxApiError``.
"""

from __future__ import annotations

import enum
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp
import structlog

from adapters.mango.signature import sign

log = structlog.get_logger(__name__)

# The manual's codes (Mango Office's VPBX API manual v1.9, result codes); an unknown code is read as its class.
CALL_GONE_CODES = frozenset({3310, 4101})
RATE_LIMIT_CODE = 4290
RECORDING_NOT_FOUND_CODE = 3320
HTTP_RATE_LIMITED = 429


class PbxApiError(Exception):
    """The PBX API could not be reached or answered with an error."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None,
                 outcome: CommandOutcome | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.outcome = outcome


class Outcome(enum.StrEnum):
    """What became of a command, as far as the synchronous answer tells."""

    SUCCESS = "success"
    CALL_GONE = "call_gone"          # the leg has ended or left the IVR (4101, 3310)
    BAD_REQUEST = "bad_request"      # 3xxx, or HTTP 4xx: our request was wrong
    REFUSED = "refused"              # 2xxx billing, 4xxx: valid, but the PBX will not
    RATE_LIMITED = "rate_limited"    # HTTP 429 or 4290
    SERVER_ERROR = "server_error"    # HTTP 5xx or 5xxx
    UNREACHABLE = "unreachable"      # no answer in time, or no connection


@dataclass(frozen=True)
class CommandOutcome:
    outcome: Outcome
    command_id: str | None = None
    status: int | None = None        # HTTP status
    code: int | None = None          # the PBX's result/code, when it gave one
    request_id: str | None = None    # X-Uuid, for the PBX's support
    detail: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.SUCCESS


def outcome_of(status: int | None, code: int | None) -> Outcome:
    """Map an HTTP status and the PBX's result code to an ``Outcome``."""
    if status == HTTP_RATE_LIMITED or code == RATE_LIMIT_CODE:
        return Outcome.RATE_LIMITED
    if status is not None and status >= 500:
        return Outcome.SERVER_ERROR
    if code is not None:
        if code in CALL_GONE_CODES:
            return Outcome.CALL_GONE
        return {1: Outcome.SUCCESS, 2: Outcome.REFUSED, 3: Outcome.BAD_REQUEST,
                4: Outcome.REFUSED, 5: Outcome.SERVER_ERROR}.get(code // 1000, Outcome.BAD_REQUEST)
    if status is not None and 200 <= status < 300:
        return Outcome.SUCCESS
    return Outcome.BAD_REQUEST


@dataclass(frozen=True)
class Employee:
    extension: str
    name: str | None
    email: str | None
    user_id: int | None


def compact_json(payload: dict[str, Any]) -> str:
    """The manual asks for JSON without spaces; we sign exactly this string."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def new_command_id(kind: str) -> str:
    """Our id for a command; the PBX echoes it in events and in ``/result/<command>``."""
    return f"{kind}-{uuid.uuid4().hex}"


def _code(answer: dict[str, Any]) -> int | None:
    for key in ("result", "code"):
        value = answer.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value:
            return value
    return None


class MangoClient:
    """One aiohttp session for all commands; opened and closed by its owner."""

    def __init__(self, session: aiohttp.ClientSession, *, base_url: str, api_key: str,
                 api_salt: str, timeout_s: float) -> None:
        self._session = session
        self._base_url = base_url if base_url.endswith("/") else base_url + "/"
        self._key = api_key
        self._salt = api_salt
        self._timeout_s = timeout_s
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    def signed_form(self, payload: dict[str, Any]) -> dict[str, str]:
        body = compact_json(payload)
        return {"vpbx_api_key": self._key, "sign": sign(self._key, body, self._salt), "json": body}

    def _url(self, path: str) -> str:
        return self._base_url + path.lstrip("/")

    def _timeout_for(self, timeout_s: float | None) -> aiohttp.ClientTimeout:
        if timeout_s is None or timeout_s >= self._timeout_s:
            return self._timeout
        return aiohttp.ClientTimeout(total=max(timeout_s, 0.001))

    async def post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST a signed command; the PBX's JSON answer, or PbxApiError."""
        url = self._base_url + path.lstrip("/")
        try:
            async with self._session.post(url, data=self.signed_form(payload), timeout=self._timeout) as resp:
                request_id = resp.headers.get("X-Uuid")
                text = await resp.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise PbxApiError(f"{path}: {exc.__class__.__name__}: {exc}") from exc
        log.debug("pbx_api_call", path=path, status=resp.status, pbx_request_id=request_id)
        try:
            answer = json.loads(text) if text else {}
        except ValueError:
            answer = None
        if resp.status != 200:
            code = answer.get("code") if isinstance(answer, dict) else None
            raise PbxApiError(f"{path}: HTTP {resp.status}", status=resp.status, code=code)
        if not isinstance(answer, dict):
            raise PbxApiError(f"{path}: the answer is not a JSON object: {text[:100]!r}", status=resp.status)
        result = answer.get("result")
        if isinstance(result, int) and result // 1000 != 1:
            raise PbxApiError(f"{path}: result {result}", status=resp.status, code=result)
        return answer

    async def command(self, path: str, payload: dict[str, Any], *,
                      timeout_s: float | None = None) -> CommandOutcome:
        """POST a signed command and read its synchronous answer as a typed outcome."""
        command_id = payload.get("command_id")
        started = time.perf_counter()
        try:
            async with self._session.post(self._url(path), data=self.signed_form(payload),
                                          timeout=self._timeout_for(timeout_s)) as resp:
                request_id = resp.headers.get("X-Uuid")
                status = resp.status
                text = await resp.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            detail = f"{exc.__class__.__name__}: {exc}"
            log.warning("pbx_command", path=path, command_id=command_id, outcome="unreachable",
                        error=detail, elapsed_ms=_ms(started))
            return CommandOutcome(Outcome.UNREACHABLE, command_id=command_id, detail=detail)
        answer = _json_object(text)
        code = _code(answer)
        found = CommandOutcome(outcome_of(status, code), command_id=command_id, status=status,
                               code=code, request_id=request_id,
                               detail=None if status < 400 else text[:200])
        # Success is logged by the caller with what it decided (and this request id);
        # a failure is worth a line of its own.
        level = log.debug if found.ok else log.warning
        level("pbx_command", path=path, command_id=command_id, outcome=found.outcome.value,
              status=status, code=code, pbx_request_id=request_id, elapsed_ms=_ms(started))
        return found

    async def route(self, call_id: str, to_number: str, *, command_id: str | None = None,
                    timeout_s: float | None = None) -> CommandOutcome:
        """``commands/route``: send a leg still in the IVR (or queue) to an extension or group."""
        payload = {"command_id": command_id or new_command_id("route"), "call_id": call_id,
                   "to_number": to_number}
        return await self.command("commands/route", payload, timeout_s=timeout_s)

    async def callback(self, extension: str, to_number: str, *, line_number: str | None = None,
                       command_id: str | None = None) -> CommandOutcome:
        """``commands/callback``: ring the employee, then dial ``to_number`` for him."""
        payload: dict[str, Any] = {"command_id": command_id or new_command_id("callback"),
                                   "from": {"extension": extension}, "to_number": to_number}
        if line_number:
            payload["line_number"] = line_number
        return await self.command("commands/callback", payload)

    async def hangup(self, call_id: str, *, command_id: str | None = None) -> CommandOutcome:
        """``commands/call/hangup``: end a leg (4101 = it had already ended)."""
        payload = {"command_id": command_id or new_command_id("hangup"), "call_id": call_id}
        return await self.command("commands/call/hangup", payload)

    async def recording_link(self, recording_id: str, *, action: str = "download") -> str:
        """A fresh one-shot link to a recording (``queries/recording/post``).

        The PBX answers 302 to a short-lived URL; we hand that Location on and
        never follow or keep it, since it expires.
        """
        payload = {"recording_id": recording_id, "action": action}
        path = "queries/recording/post"
        try:
            async with self._session.post(self._url(path), data=self.signed_form(payload),
                                          timeout=self._timeout, allow_redirects=False) as resp:
                request_id = resp.headers.get("X-Uuid")
                location = resp.headers.get("Location")
                status = resp.status
                text = await resp.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            outcome = CommandOutcome(Outcome.UNREACHABLE, detail=f"{exc.__class__.__name__}: {exc}")
            raise PbxApiError(f"{path}: {outcome.detail}", outcome=outcome) from exc
        log.info("pbx_recording_link", status=status, pbx_request_id=request_id,
                 has_location=location is not None)
        if status in (301, 302, 303, 307) and location:
            return location
        code = _code(_json_object(text))
        # A 200 without a link or a code is not a success of this query.
        kind = outcome_of(status, code) if status != 200 or code else Outcome.BAD_REQUEST
        outcome = CommandOutcome(kind, status=status, code=code, request_id=request_id)
        raise PbxApiError(f"{path}: HTTP {status}, no link (code {code})", status=status, code=code,
                          outcome=outcome)

    async def employees(self) -> list[Employee]:
        """The PBX's users that have an extension (``config/users/request``)."""
        answer = await self.post("config/users/request", {"ext_fields": ["general.user_id"]})
        found = []
        for user in answer.get("users") or []:
            general = user.get("general") or {}
            extension = str((user.get("telephony") or {}).get("extension") or "").strip()
            if not extension:
                continue
            user_id = general.get("user_id")
            found.append(Employee(
                extension=extension,
                name=general.get("name") or None,
                email=(general.get("email") or "").lower() or None,
                user_id=int(str(user_id)) if str(user_id or "").isdigit() else None,
            ))
        return found


def _json_object(text: str) -> dict[str, Any]:
    try:
        answer = json.loads(text) if text else {}
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 2)
