"""Who may post, how much anyone may ask, and what never leaks: the daemon's security rules."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.settings import SettingsError, load_settings
from daemon.http.security import client_address, parse_networks
from daemon.runtime.app import build_app
from daemon.screen.keys import SCREEN_AUTH_GATE
from tests.callgen import app_settings
from tests.conftest import API_KEY, API_SALT, API_TOKEN, auth, fixture_json, signed_form
from tests.support.daemon import Daemon
from tests.support.faults import TcpProxy, eventually, proxied_url
from tests.support.paths import REPO

PBX_ADDRESSES = ["81.88.80.132", "81.88.80.133", "81.88.82.36", "81.88.82.44", "81.88.82.45"]
APPEARED = fixture_json("answered_incoming.json")["steps"][0]["json"]
ROOT = REPO


# -- the client's address ----------------------------------------------------------------------

PROXIES = parse_networks(["127.0.0.1", "10.0.0.0/8", "::1"])


@pytest.mark.parametrize(("peer", "forwarded", "client"), [
    ("81.88.80.132", [], "81.88.80.132"),                                  # straight from the PBX
    ("203.0.113.9", ["81.88.80.132"], "203.0.113.9"),                      # not a proxy: header ignored
    ("127.0.0.1", ["81.88.80.132"], "81.88.80.132"),                       # nginx on this host
    ("127.0.0.1", ["81.88.80.132, 10.1.2.3"], "81.88.80.132"),             # two trusted hops
    ("127.0.0.1", ["81.88.80.132", "10.1.2.3"], "81.88.80.132"),           # the same, as two headers
    ("127.0.0.1", ["81.88.80.132, 203.0.113.9"], "203.0.113.9"),           # a forged left end is not read
    ("127.0.0.1", [], "127.0.0.1"),                                         # nothing forwarded
    ("127.0.0.1", ["not-an-address"], None),                                # garbage: nobody vouches
    ("::1", ["2001:db8::7"], "2001:db8::7"),
    ("::ffff:127.0.0.1", ["81.88.80.133"], "81.88.80.133"),                 # dual-stack socket
    ("127.0.0.1", ["[2001:db8::7]:443"], "2001:db8::7"),
    (None, ["81.88.80.132"], None),
])
def test_client_address_believes_only_trusted_proxies(peer: str | None, forwarded: list[str],
                                                      client: str | None) -> None:
    found = client_address(peer, forwarded, PROXIES)
    assert (str(found) if found else None) == client


# -- the allow-list in the app ---------------------------------------------------------------

@pytest.fixture
async def guarded(db_url: str, tmp_path: Path) -> AsyncIterator[TestClient]:
    """The daemon with the PBX's addresses allowed and nginx on 127.0.0.1 trusted."""
    settings = app_settings(db_url, str(tmp_path / "state"), pbx_allowed_networks=",".join(PBX_ADDRESSES),
                            trusted_proxies="127.0.0.1,::1")
    app = build_app(settings, database_url=db_url, apply_migrations=False)
    async with TestClient(TestServer(app)) as client:
        yield client


async def _post_from(client: TestClient, forwarded: str | None) -> tuple[int, Any]:
    headers = {"X-Forwarded-For": forwarded} if forwarded is not None else {}
    resp = await client.post("/mango/events/call", data=signed_form(APPEARED), headers=headers)
    return resp.status, await resp.json()


async def test_the_pbx_behind_a_trusted_proxy_may_post(guarded: TestClient, repo) -> None:  # type: ignore[no-untyped-def]
    assert await _post_from(guarded, "81.88.82.45") == (200, {"result": "stored"})
    assert await repo.pool.fetchval("SELECT count(*) FROM inbox") == 1


@pytest.mark.parametrize("forwarded", [None, "203.0.113.9", "81.88.80.132, 203.0.113.9", "junk", ""])
async def test_anyone_else_is_refused_and_nothing_stored(guarded: TestClient, repo, forwarded: str | None) -> None:  # type: ignore[no-untyped-def]
    status, body = await _post_from(guarded, forwarded)
    assert (status, body) == (403, {"error": "source address not allowed"})
    assert await repo.pool.fetchval("SELECT count(*) FROM inbox") == 0


async def test_the_allow_list_guards_only_the_webhooks(guarded: TestClient) -> None:
    resp = await guarded.get("/api/contacts/lookup", params={"phone": "+79161234567"}, headers=auth())
    assert resp.status == 404  # reached the API: no such contact in an empty database
    assert (await guarded.get("/health")).status == 200


async def test_forwarded_for_is_ignored_without_trusted_proxies(db_url: str, tmp_path: Path) -> None:
    settings = app_settings(db_url, str(tmp_path / "state"), pbx_allowed_networks=",".join(PBX_ADDRESSES))
    app = build_app(settings, database_url=db_url, apply_migrations=False)
    async with TestClient(TestServer(app)) as client:
        assert (await _post_from(client, "81.88.80.132"))[0] == 403


async def test_an_empty_allow_list_lets_everyone_post(client: TestClient) -> None:
    assert await _post_from(client, "203.0.113.9") == (200, {"result": "stored"})


def test_networks_are_checked_when_settings_load() -> None:
    parsed = load_settings({"CALLBRIDGE_PBX_ALLOWED_NETWORKS": "81.88.80.132, 81.88.82.0/24",
                            "CALLBRIDGE_TRUSTED_PROXIES": "::1"})
    assert parsed.mango.allowed_networks == ["81.88.80.132", "81.88.82.0/24"]
    assert parsed.http.trusted_proxies == ["::1"]
    with pytest.raises(SettingsError, match="pbx_allowed_networks.*81.88.80.300"):
        load_settings({"CALLBRIDGE_PBX_ALLOWED_NETWORKS": "81.88.80.300"})


def test_the_example_config_allows_the_pbx_documented_addresses() -> None:
    example = load_settings({"CALLBRIDGE_CONFIG": str(ROOT / "config" / "callbridge.example.toml")})
    assert sorted(example.mango.allowed_networks) == sorted(PBX_ADDRESSES)
    assert "127.0.0.1" in example.http.trusted_proxies


# -- limits -----------------------------------------------------------------------------------

async def _half_sent_request(client: TestClient) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A webhook whose body never finishes arriving: its handler stays in progress."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(b"POST /mango/events/call HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\njson=")
    await writer.drain()
    return reader, writer


@contextlib.asynccontextmanager
async def _limited_client(db_url: str, tmp_path: Path, **limits: str) -> AsyncIterator[TestClient]:
    settings = app_settings(db_url, str(tmp_path / "state"), **limits)
    app = build_app(settings, database_url=db_url, apply_migrations=False)
    async with TestClient(TestServer(app)) as client:
        yield client


async def test_requests_past_the_concurrency_cap_get_503_at_once(db_url: str, tmp_path: Path) -> None:
    async with _limited_client(db_url, tmp_path, max_concurrent_requests="2") as client:
        slow = [await _half_sent_request(client) for _ in range(2)]

        async def cap_reached() -> bool:
            resp = await client.get("/health")
            await resp.read()
            return resp.status == 503 and resp.headers.get("Retry-After") == "1"

        await eventually(cap_reached, what="the third request to be refused")
        resp = await client.post("/mango/events/call", data=signed_form(APPEARED))
        assert (resp.status, (await resp.json())["error"]) == (503, "too many requests in progress, retry later")
        for _, writer in slow:
            writer.close()
        await eventually(lambda: _status_is(client, "/mango/events/call", 200), what="the cap to free up")


async def _status_is(client: TestClient, path: str, status: int) -> bool:
    resp = await client.post(path, data=signed_form(APPEARED))
    await resp.read()
    return resp.status == status


async def test_a_request_that_takes_too_long_is_cut_off(db_url: str, tmp_path: Path) -> None:
    async with _limited_client(db_url, tmp_path, request_timeout_s="0.5") as client:
        reader, writer = await _half_sent_request(client)
        try:
            answer = await asyncio.wait_for(reader.read(4096), timeout=10)
        finally:
            writer.close()
        assert answer.startswith(b"HTTP/1.1 503"), answer[:200]
        assert b"request took too long" in answer


async def test_the_screen_socket_outlives_the_request_timeout(db_url: str, tmp_path: Path) -> None:
    """A manager's screen stays connected for hours: the request timeout is not for WebSockets."""
    async with (_limited_client(db_url, tmp_path, request_timeout_s="0.3") as client,
                client.session.ws_connect(client.make_url("/ws?extension=105"), headers=auth()) as ws):
        hello = await ws.receive_json(timeout=10)
        assert hello["type"] == "hello"
        await asyncio.sleep(1.0)
        assert not ws.closed
        # What comes is the screen's own (the inbox list on connect), never a close frame.
        while True:
            try:
                message = await ws.receive(timeout=0.2)
            except TimeoutError:
                break
            assert message.type == aiohttp.WSMsgType.TEXT, message
        assert not ws.closed


# -- the bearer token -------------------------------------------------------------------------

@pytest.mark.parametrize("header", [
    b"", b"Bearer", b"Bearer ", b"Basic " + API_TOKEN.encode(), b"Bearer " + API_TOKEN[:-1].encode(),
    b"Bearer " + API_TOKEN.encode() + b"x", b"Bearer x" + API_TOKEN[1:].encode(),
    b"Bearer \xff\xfe", "Bearer токен".encode(), b"Bearer " + API_TOKEN.upper().encode(),
])
async def test_a_wrong_token_is_401_whatever_its_bytes(client: TestClient, header: bytes) -> None:
    """Regression: a token that is not UTF-8 once raised in the comparison (500)."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(b"GET /api/contacts/lookup?phone=%2B79161234567 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                 + (b"Authorization: " + header + b"\r\n" if header else b"") + b"\r\n")
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), timeout=10)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert b'Bearer realm="callbridge"' in answer


async def test_the_right_token_passes(client: TestClient) -> None:
    resp = await client.get("/api/contacts/lookup", params={"phone": "+79161234567"}, headers=auth())
    assert resp.status == 404


# -- secrets never leak -----------------------------------------------------------------------

DB_PASSWORD = "pw-that-must-not-leak-" + "7" * 8
FORM_SECRET = "form-secret-1"  # shorter than a quote cut short: redacted only when whole
IMAP_PASSWORD = "imap-pass-must-not-leak-42"
SMTP_PASSWORD = "smtp-pass-must-not-leak-43"
BOT_SECRET = "cb_tg_bot_secret_must_not_leak_44"
SOURCES_WITH_SECRETS = {
    "site": {"kind": "form", "secret": FORM_SECRET},
    "bot": {"kind": "telegram", "secret": BOT_SECRET},
    # Nothing listens on port 9: the poller retries and logs, with the password in its settings.
    "mail": {"kind": "email", "imap_host": "127.0.0.1", "imap_port": 9, "imap_security": "plain",
             "username": "desk", "password": IMAP_PASSWORD},
}


async def _exchange(session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> str:
    async with session.request(method, url, **kwargs) as resp:
        return f"{resp.status} {dict(resp.headers)} {await resp.text(errors='replace')}"


@pytest.mark.timeout(60)
async def test_secrets_never_reach_the_logs_or_an_answer(db_url: str, tmp_path: Path) -> None:
    """A real daemon logging at debug, fed good and bad requests, with PostgreSQL up and then down:
    neither its log nor any answer holds any configured secret: the key, the salt, the token, the
    database password, the sources' secrets, the IMAP and SMTP passwords."""
    parts = urlsplit(db_url)
    proxy = TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.start()
    # The test server trusts local connections, so this password is accepted and never checked.
    url = proxied_url(db_url, proxy).replace("postgres@", f"postgres:{DB_PASSWORD}@", 1)
    daemon = Daemon(state_dir=tmp_path / "state", log_path=tmp_path / "daemon.log",
                    env={"CALLBRIDGE_DATABASE_URL": url, "CALLBRIDGE_LOG_LEVEL": "debug",
                         "CALLBRIDGE_DB_BUDGET_S": "1", "CALLBRIDGE_SOURCES": json.dumps(SOURCES_WITH_SECRETS),
                         "CALLBRIDGE_SMTP_PASSWORD": SMTP_PASSWORD})
    await daemon.start()
    answers: list[str] = []
    base = daemon.url
    try:
        async with aiohttp.ClientSession() as session:
            for round_ in ("database up", "database down"):
                if round_ == "database down":
                    await proxy.set_mode("reset")
                answers += await _good_and_bad_requests(session, base)
                await _overlong_lines_carrying_secrets(daemon.port)
            await proxy.set_mode("pass")
            await eventually(lambda: _health_passes(session, base), timeout_s=20, what="the spool to drain")
    finally:
        await daemon.stop()
        await proxy.close()
    log = daemon.log()
    assert log.count('"event": "webhook"') >= 4, log[-2000:]  # the capture saw the summaries
    assert '"level": "debug"' in log or '"level": "info"' in log
    assert "line_too_long" in log or "Got more than" in log  # aiohttp did log the long lines
    for secret in (API_KEY, API_SALT, API_TOKEN, DB_PASSWORD, FORM_SECRET, BOT_SECRET, IMAP_PASSWORD,
                   SMTP_PASSWORD):
        assert secret not in log, f"a secret is in the daemon's log: {secret[:4]}..."
        for answer in answers:
            assert secret not in answer, f"a secret is in an answer: {answer[:300]}"


async def _overlong_lines_carrying_secrets(port: int) -> None:
    """Header and request lines over aiohttp's 8 KiB limit, starting with a secret. aiohttp refuses
    them with an error that quotes the line's first 100 bytes, and logs that error. (Its 400 answer
    quotes them too, but only to the sender, who sent them: not checked here.)"""
    pad = "y" * 9000
    lines = [
        f"GET /api/contacts/lookup?phone=1 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {API_TOKEN}{pad}\r\n\r\n",
        f"POST /mango/events/call HTTP/1.1\r\nHost: x\r\nX-Vpbx-Api-Key: {API_KEY}{pad}\r\n\r\n",
        f"GET /api/communications?token={API_TOKEN}{pad} HTTP/1.1\r\nHost: x\r\n\r\n",
        f"POST /inquiries/site?token={FORM_SECRET}{pad} HTTP/1.1\r\nHost: x\r\n\r\n",
        f"POST /inquiries/bot HTTP/1.1\r\nHost: x\r\nX-Telegram-Bot-Api-Secret-Token: {BOT_SECRET}{pad}\r\n\r\n",
    ]
    for text in lines:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(text.encode())
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), 10)
        assert status.split()[1:2] in ([b"400"], [b"414"], [b"431"]), status
        writer.close()
        await writer.wait_closed()


async def _health_passes(session: aiohttp.ClientSession, base: str) -> bool:
    async with session.get(base + "/health") as resp:
        return (await resp.json(content_type=None))["status"] == "pass"


async def _good_and_bad_requests(session: aiohttp.ClientSession, base: str) -> list[str]:
    event = dict(APPEARED, call_id=APPEARED["call_id"] + str(len(base)))
    good = signed_form(event)
    event2 = dict(event, seq=2, call_state="Connected")
    text = json.dumps(event2)
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/mango/events/call", {"data": good}),
        ("POST", "/mango/events/call", {"data": good}),  # a repeat
        ("POST", "/mango/events/call", {"data": signed_form(event2)}),
        ("POST", "/mango/events/call", {"data": signed_form(event, salt="wrong-salt")}),
        ("POST", "/mango/events/call", {"data": signed_form(event, key="someone-else")}),
        ("POST", "/mango/events/call", {"data": {"vpbx_api_key": API_KEY, "sign": API_SALT, "json": text}}),
        ("POST", "/mango/events/call", {"data": signed_form("{not json " + API_SALT)}),
        ("POST", "/mango/events/call", {"data": signed_form({"entry_id": API_TOKEN})}),
        ("POST", "/mango/events/summary", {"data": signed_form({"entry_id": "x", "create_time": API_KEY})}),
        ("POST", "/mango/events/call", {"json": {"vpbx_api_key": API_KEY}}),
        ("POST", "/mango/events/call", {"data": b"vpbx_api_key=" + API_KEY.encode() + b"&json=%FF",
                                        "headers": {"Content-Type": "application/x-www-form-urlencoded"}}),
        ("POST", "/mango/ping", {"data": good}),
        ("GET", "/api/contacts/lookup?phone=%2B79161234567", {"headers": {"Authorization": f"Bearer {API_TOKEN}"}}),
        ("GET", "/api/contacts/lookup?phone=%2B79161234567", {"headers": {"Authorization": f"Bearer {API_TOKEN}x"}}),
        ("GET", "/api/communications?phone=" + API_TOKEN, {"headers": {"Authorization": f"Bearer {API_TOKEN}"}}),
        ("GET", "/health", {}),
        ("GET", "/metrics", {}),
        ("GET", "/no/such/page", {}),
    ]
    return [await _exchange(session, method, base + path, **kwargs) for method, path, kwargs in requests]


# -- hostile query strings on the read API ---------------------------------------------------

QUERY_VALUES = st.one_of(
    st.text(max_size=30), st.sampled_from(["²", "١٢", "9" * 30, "-1", "0", "1e3", " 1", "\x00", "+7 916 123-45-67",
                                           "2025-10-01", "2025-13-45T99:99", "' OR 1=1 --", "<b>"]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(["/api/contacts/lookup", "/api/communications"]),
       query=st.dictionaries(st.sampled_from(["phone", "contact_id", "since", "until", "limit"]), QUERY_VALUES,
                             max_size=4))
async def test_hostile_query_strings_get_an_answer_not_a_500(client: TestClient, path: str,
                                                             query: dict[str, str]) -> None:
    """Regression: "²" passed isdigit() but not int(), and a 30-digit contact_id overflowed bigint (500)."""
    resp = await client.get(path, params=query, headers=auth())
    assert resp.status in (200, 400, 404), (resp.status, await resp.text())
    body = await resp.json()
    assert isinstance(body, list) or "error" in body or "id" in body


async def test_a_websocket_authorization_header_that_is_not_utf8_is_refused_not_a_500(
    client: TestClient,
) -> None:
    """Regression: the screen's own token check once raised on such bytes (500)."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(b"GET /ws?extension=105 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
                 b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 b"Authorization: Bearer \xff\xfe\r\n\r\n")
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), timeout=10)
    writer.close()
    assert status_line.startswith(b"HTTP/1.1 401"), status_line


# -- WebSocket headers and sockets waiting for their token -------------------

async def _half_sent_upgrade(client: TestClient) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A webhook that says ``Upgrade: websocket`` and never finishes its body."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(b"POST /mango/events/call HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                 b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\njson=")
    await writer.drain()
    return reader, writer


async def test_an_upgrade_header_does_not_escape_the_request_timeout(db_url: str, tmp_path: Path) -> None:
    """The header alone used to skip both limits on any route: a slow body held a handler for ever."""
    async with _limited_client(db_url, tmp_path, request_timeout_s="0.5") as client:
        reader, writer = await _half_sent_upgrade(client)
        try:
            answer = await asyncio.wait_for(reader.read(4096), timeout=10)
        finally:
            writer.close()
        assert answer.startswith(b"HTTP/1.1 503"), answer[:200]
        assert b"request took too long" in answer


async def test_an_upgrade_header_does_not_escape_the_concurrency_cap(db_url: str, tmp_path: Path) -> None:
    async with _limited_client(db_url, tmp_path, max_concurrent_requests="2") as client:
        slow = [await _half_sent_upgrade(client) for _ in range(2)]
        try:
            async def cap_reached() -> bool:
                resp = await client.get("/health")
                await resp.read()
                return resp.status == 503

            await eventually(cap_reached, what="the cap to count requests that say Upgrade")
        finally:
            for _, writer in slow:
                writer.close()


async def test_sockets_waiting_for_their_token_are_capped(client: TestClient) -> None:
    """Upgraded sockets that have not sent their token yet: past the cap, a 503 before the upgrade;
    once one authenticates, its place is free again."""
    client.app[SCREEN_AUTH_GATE].limit = 2
    waiting = [await client.ws_connect("/ws?extension=105") for _ in range(2)]
    try:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect("/ws?extension=105")
        assert refused.value.status == 503
        await waiting[0].send_json({"type": "auth", "token": API_TOKEN})
        assert (await waiting[0].receive_json(timeout=10))["type"] == "hello"
        third = await client.ws_connect("/ws?extension=105")
        await third.close()
    finally:
        for ws in waiting:
            await ws.close()
