"""Bodies the server cannot read: a 400 with the reason, one warning line, and a connection that
is either closed by announcement or still usable, never reset under the client's next request."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import API_TOKEN

NOT_GZIP = b"this is not gzip at all, whatever the header says"
UNREADABLE = [
    pytest.param(b"Content-Encoding: gzip\r\nContent-Type: application/json\r\n", NOT_GZIP, id="bad-gzip"),
    pytest.param(b"Content-Encoding: deflate\r\nContent-Type: application/json\r\n", NOT_GZIP, id="bad-deflate"),
    pytest.param(b"Content-Type: application/json; charset=klingon\r\n", b'{"tag": "x"}', id="unknown-charset"),
    pytest.param(b"Content-Type: application/json; charset=utf-16\r\n", b'{"tag": "\xd8"}', id="bad-utf-16"),
]
PATHS = ["/api/contacts/1/tags", "/api/calls", "/api/contacts/merge", "/api/inquiries",
         "/api/contacts/1/do-not-call", "/api/leads/1/close"]


async def _answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    status = int((await asyncio.wait_for(reader.readline(), 10)).split()[1])
    headers: dict[str, str] = {}
    while (line := await asyncio.wait_for(reader.readline(), 10)) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


async def _two_requests(port: int, method: str, path: str, extra: bytes, body: bytes) -> tuple[
        tuple[int, dict[str, str], bytes], tuple[int, dict[str, str], bytes] | None]:
    """The bad request, then /health on the same connection unless the first answer closed it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {API_TOKEN}\r\n".encode()
                     + extra + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        first = await _answer(reader)
        if first[1].get("connection", "").lower() == "close":
            return first, None
        writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            return first, await _answer(reader)
        except (ConnectionError, asyncio.IncompleteReadError, IndexError, ValueError):
            return first, (0, {}, b"connection reset under the next request")
    finally:
        writer.close()


@pytest.mark.parametrize(("extra", "body"), UNREADABLE)
@pytest.mark.parametrize("path", PATHS)
async def test_an_unreadable_body_is_a_400_and_the_connection_is_not_reset(
        client: TestClient, capfd: pytest.CaptureFixture[str], boundary_log: list[dict[str, Any]], path: str,
        extra: bytes, body: bytes) -> None:
    method = "PUT" if path.endswith(("do-not-call", "close")) else "POST"
    (status, _, answer), after = await _two_requests(client.port, method, path, extra, body)
    assert status == 400, answer
    assert json.loads(answer)["error"], answer
    if after is not None:
        assert after[0] == 200, after
    # At most one warning line (a body decoded by the handler's own reader is a plain 400), no traceback.
    assert [line["log_level"] for line in boundary_log] in ([], ["warning"]), boundary_log
    err = capfd.readouterr().err
    assert "Unhandled exception" not in err, err[-2000:]


async def test_a_body_aiohttp_cannot_decode_is_one_warning_line(client: TestClient,
                                                               boundary_log: list[dict[str, Any]]) -> None:
    (status, headers, _), _ = await _two_requests(
        client.port, "POST", "/api/calls", b"Content-Encoding: gzip\r\nContent-Type: application/json\r\n", NOT_GZIP)
    assert status == 400 and headers["connection"].lower() == "close"
    assert [(line["event"], line["log_level"]) for line in boundary_log] == [("request_body_unreadable", "warning")]
