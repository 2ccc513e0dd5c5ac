"""The PBX's call statistics: ``stats/request`` then ``stats/result`` (Mango Office's VPBX API manual).

``stats/request`` takes a window (epoch seconds, at most a month) and the
fields wanted, and answers ``{"key": ...}``. ``stats/result`` with that key
answers 204 while the report is being made (we ask again no more than once
per ``poll_interval_s``, 5 s as the manual asks), 404 for an unknown or
expired key, and 200 with CSV: ``;`` between fields in the order requested,
``\\n`` between rows, no header, no quoting; ``records`` is ``[id1,id2]``.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

import aiohttp
import structlog

from adapters.mango.client import PbxApiError, compact_json
from adapters.mango.signature import sign

log = structlog.get_logger(__name__)

STATS_FIELDS = (
    "records",
    "start",
    "finish",
    "answer",
    "from_extension",
    "from_number",
    "to_extension",
    "to_number",
    "disconnect_reason",
    "line_number",
    "location",
    "entry_id",
)
POLL_INTERVAL_S = 5.0  # the manual: poll stats/result no more than once per 5 s
MAX_WAIT_S = 600.0
MAX_WINDOW_S = 31 * 24 * 3600  # "at most a month apart"
RATE_LIMIT_BACKOFF_S = 2.0  # stats/request: 1 per 2 s per product
HTTP_NOT_READY = 204
HTTP_RATE_LIMITED = 429


class StatsError(PbxApiError):
    """The statistics could not be had: refused, expired, too slow, or not CSV we can read."""


@dataclass(frozen=True)
class StatsRow:
    """One row of the statistics CSV, under our own names."""

    line_no: int
    raw: str
    entry_id: str
    records: tuple[str, ...]
    start: int
    finish: int
    answer: int  # 0 when nobody answered
    from_extension: str | None
    from_number: str | None
    to_extension: str | None
    to_number: str | None
    disconnect_reason: int | None
    line_number: str | None
    location: str | None


@dataclass(frozen=True)
class BadLine:
    line_no: int
    raw: str
    problem: str


def _records(text: str) -> tuple[str, ...]:
    inner = text.strip().removeprefix("[").removesuffix("]")
    return tuple(part.strip() for part in inner.split(",") if part.strip())


def _int(name: str, text: str) -> int | None:
    text = text.strip()
    if not text:
        return None
    if not text.lstrip("-").isdigit():
        raise ValueError(f"{name} is not a number: {text[:40]!r}")
    return int(text)


def _required_int(name: str, text: str) -> int:
    value = _int(name, text)
    if value is None:
        raise ValueError(f"{name} is empty")
    return value


def parse_row(line_no: int, raw: str, fields: tuple[str, ...] = STATS_FIELDS) -> StatsRow:
    """One CSV line -> StatsRow; ValueError naming the problem."""
    parts = raw.split(";")
    if len(parts) != len(fields):
        raise ValueError(f"expected {len(fields)} fields separated by ';', got {len(parts)}")
    values = dict(zip(fields, parts, strict=True))
    entry_id = values["entry_id"].strip()
    if not entry_id:
        raise ValueError("entry_id is empty")
    text = {name: (values.get(name, "").strip() or None) for name in fields}
    return StatsRow(
        line_no=line_no,
        raw=raw,
        entry_id=entry_id,
        records=_records(values.get("records", "")),
        start=_required_int("start", values["start"]),
        finish=_required_int("finish", values["finish"]),
        answer=_int("answer", values["answer"]) or 0,
        from_extension=text.get("from_extension"),
        from_number=text.get("from_number"),
        to_extension=text.get("to_extension"),
        to_number=text.get("to_number"),
        disconnect_reason=_int("disconnect_reason", values.get("disconnect_reason", "")),
        line_number=text.get("line_number"),
        location=text.get("location"),
    )


def parse_stats_csv(
    text: str, fields: tuple[str, ...] = STATS_FIELDS
) -> tuple[list[StatsRow], list[BadLine]]:
    """Every readable row, and every line that is not (with its number and problem)."""
    rows, bad = [], []
    for line_no, raw in enumerate(text.split("\n"), start=1):
        raw = raw.removesuffix("\r")
        if not raw.strip():
            continue
        try:
            rows.append(parse_row(line_no, raw, fields))
        except ValueError as exc:
            bad.append(BadLine(line_no, raw, str(exc)))
    return rows, bad


class StatsClient:
    """Signed requests for the statistics; the session belongs to the caller."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        api_key: str,
        api_salt: str,
        timeout_s: float,
        poll_interval_s: float = POLL_INTERVAL_S,
        max_wait_s: float = MAX_WAIT_S,
    ) -> None:
        self._session = session
        self._base_url = base_url if base_url.endswith("/") else base_url + "/"
        self._key = api_key
        self._salt = api_salt
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.poll_interval_s = poll_interval_s
        self.max_wait_s = max_wait_s

    async def _post(self, path: str, payload: dict[str, Any]) -> tuple[int, str]:
        body = compact_json(payload)
        form = {"vpbx_api_key": self._key, "sign": sign(self._key, body, self._salt), "json": body}
        try:
            async with self._session.post(
                self._base_url + path, data=form, timeout=self._timeout
            ) as resp:
                text = await resp.text(encoding="utf-8", errors="replace")
                log.debug(
                    "pbx_api_call",
                    path=path,
                    status=resp.status,
                    pbx_request_id=resp.headers.get("X-Uuid"),
                )
                return resp.status, text
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise StatsError(f"{path}: {exc.__class__.__name__}: {exc}") from exc

    async def request(
        self, date_from: int, date_to: int, fields: tuple[str, ...] = STATS_FIELDS
    ) -> str:
        """Ask for the statistics of [date_from, date_to]; the key to fetch them with."""
        if not 0 < date_to - date_from <= MAX_WINDOW_S:
            raise StatsError(
                "stats/request: the window must be positive and at most "
                f"{MAX_WINDOW_S // 86400} days"
            )
        payload = {"date_from": date_from, "date_to": date_to, "fields": ",".join(fields)}
        status, text = await self._post("stats/request", payload)
        if status == HTTP_RATE_LIMITED:
            await asyncio.sleep(RATE_LIMIT_BACKOFF_S)
            status, text = await self._post("stats/request", payload)
        answer = _json_object(text)
        code = answer.get("result") or answer.get("code")
        if status != 200 or not isinstance(answer.get("key"), str) or not answer["key"]:
            raise StatsError(
                f"stats/request: HTTP {status}, no key (code {code})",
                status=status,
                code=code if isinstance(code, int) else None,
            )
        return answer["key"]

    async def result(self, key: str) -> str | None:
        """The CSV, or None while the PBX is still making it (204)."""
        status, text = await self._post("stats/result", {"key": key})
        if status == 200:
            return text
        if status in (HTTP_NOT_READY, HTTP_RATE_LIMITED):
            return None
        if status == 404:
            raise StatsError("stats/result: the key is unknown or expired (404)", status=status)
        raise StatsError(f"stats/result: HTTP {status}", status=status)

    async def fetch(
        self, date_from: int, date_to: int, fields: tuple[str, ...] = STATS_FIELDS
    ) -> str:
        """Request the statistics and poll politely until the CSV is ready."""
        key = await self.request(date_from, date_to, fields)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait_s
        polls = 0
        while True:
            await asyncio.sleep(self.poll_interval_s)
            polls += 1
            csv_text = await self.result(key)
            if csv_text is not None:
                log.info("pbx_stats_ready", polls=polls, bytes=len(csv_text))
                return csv_text
            if loop.time() >= deadline:
                raise StatsError(
                    f"stats/result: not ready after {self.max_wait_s:.0f} s ({polls} polls)"
                )


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
