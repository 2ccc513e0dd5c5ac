"""Connections and hang-ups: idle keep-alive sockets are closed, their number is
watched against the descriptor limit, and a client that hangs up mid-body is not an error."""

# ruff: noqa: F811 - the tests take the imported `notify` fixture by name
from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from daemon.http.connections import ConnectionWatch
from daemon.runtime.metrics import Metrics
from tests.process.test_lifecycle import NotifySocket, notify, start_daemon  # noqa: F401 - notify is a fixture


async def _is_closed_by_server(reader: asyncio.StreamReader, timeout_s: float = 20.0) -> bool:
    """The server ends the connection (EOF after whatever it still had to say)."""
    try:
        await asyncio.wait_for(reader.read(), timeout_s)
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


@pytest.mark.parametrize("notify", ["path"], indirect=True)
async def test_idle_keep_alive_connections_are_closed_after_the_timeout(
    tmp_path: Path, notify: NotifySocket, db_url: str
) -> None:
    """Connections that never send a request, and one idle after a request, are closed by the
    daemon after http_keepalive_timeout_s instead of holding a descriptor for an hour."""
    async for daemon in start_daemon(tmp_path, notify, db_url, http_keepalive_timeout_s="0.5"):
        await notify.next("READY", "1")
        silent = [await asyncio.open_connection("127.0.0.1", daemon.port) for _ in range(20)]
        reader, writer = await asyncio.open_connection("127.0.0.1", daemon.port)
        writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
        await writer.drain()
        assert (await reader.readline()).startswith(b"HTTP/1.1 200")
        closed = await asyncio.gather(*(_is_closed_by_server(r) for r, _ in [*silent, (reader, writer)]))
        assert all(closed)
        for _, w in [*silent, (reader, writer)]:
            w.close()
        assert await daemon.stop() == 0


@pytest.mark.parametrize("notify", ["path"], indirect=True)
async def test_a_client_hanging_up_mid_body_is_logged_at_info_and_not_counted_as_failed(
    tmp_path: Path, notify: NotifySocket, db_url: str
) -> None:
    async for daemon in start_daemon(tmp_path, notify, db_url):
        await notify.next("READY", "1")
        _, writer = await asyncio.open_connection("127.0.0.1", daemon.port)
        writer.write(b"POST /mango/events/call HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
                     b"vpbx_api_key=abc&json=%7B")
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.transport.abort()
        gone = await daemon.wait_log("webhook_client_gone")
        assert gone["level"] == "info"
        async with aiohttp.ClientSession() as session, session.get(daemon.url + "/metrics") as resp:
            families = {f.name: f for f in text_string_to_metric_families(await resp.text())}
        assert families["callbridge_client_disconnects"].samples[0].value == 1
        events = families["callbridge_events"].samples
        assert not [s for s in events if s.labels.get("outcome") == "error"]
        assert await daemon.stop() == 0
        lines = daemon.log_lines()
        assert not [line for line in lines if line.get("level") in ("error", "critical")], lines
        assert "Traceback" not in json.dumps(lines)


async def test_open_connections_are_counted_and_a_warning_comes_near_the_limit() -> None:
    """callbridge_http_connections follows the open connections; past 80 % of the descriptor
    limit one warning is logged (then at most one a minute)."""
    app = web.Application()
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    metrics = Metrics()
    assert runner.server is not None
    watch = ConnectionWatch(runner.server, metrics=metrics, limit=10)
    socks: list[socket.socket] = []
    try:
        assert watch.check() is False
        for _ in range(9):
            socks.append(socket.create_connection(("127.0.0.1", port)))
        for _ in range(200):
            if watch.open_connections() == 9:
                break
            await asyncio.sleep(0.01)
        assert watch.check() is True
        assert metrics.registry.get_sample_value("callbridge_http_connections") == 9
        assert watch.check() is False  # not a line per check while it lasts
    finally:
        for s in socks:
            s.close()
        await runner.cleanup()
