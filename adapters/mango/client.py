"""Signed requests to the PBX's API (``https://app.mango-office.ru/vpbx/<path>``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp
import structlog

from adapters.mango.signature import sign

log = structlog.get_logger(__name__)


class PbxApiError(Exception):
    """The PBX API could not be reached or answered with an error."""

    def __init__(self, message: str, *, status: int | None = None, code: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Employee:
    extension: str
    name: str | None
    email: str | None
    user_id: int | None


def compact_json(payload: dict[str, Any]) -> str:
    """The manual asks for JSON without spaces; we sign exactly this string."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


class MangoClient:
    """One aiohttp session for all commands; opened and closed by its owner."""

    def __init__(self, session: aiohttp.ClientSession, *, base_url: str, api_key: str,
                 api_salt: str, timeout_s: float) -> None:
        self._session = session
        self._base_url = base_url if base_url.endswith("/") else base_url + "/"
        self._key = api_key
        self._salt = api_salt
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    def signed_form(self, payload: dict[str, Any]) -> dict[str, str]:
        body = compact_json(payload)
        return {"vpbx_api_key": self._key, "sign": sign(self._key, body, self._salt), "json": body}

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
            answer = {}
        if resp.status != 200:
            raise PbxApiError(f"{path}: HTTP {resp.status}", status=resp.status, code=answer.get("code"))
        result = answer.get("result")
        if isinstance(result, int) and result // 1000 != 1:
            raise PbxApiError(f"{path}: result {result}", status=resp.status, code=result)
        return answer

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
                user_id=int(user_id) if str(user_id or "").isdigit() else None,
            ))
        return found
