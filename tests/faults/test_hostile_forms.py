"""Multipart form posts at ``/inquiries/<source>``: read in one pass, refused past their bounds.

One part of 200 KB of ``; a=1`` parameters used to hold the event loop for
12 s (750 KB for 46 s): every webhook, ``/ws`` and ``/health`` waited.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import structlog
import structlog.testing
from aiohttp.test_utils import TestClient, TestServer

from daemon.domain import multipart
from daemon.inquiries import endpoints
from daemon.intake import webhooks
from daemon.runtime.app import build_app
from daemon.store.repository import Repository
from tests.channels import SOURCES, channel_settings

BOUNDARY = "----cbFormBoundary7MA4YWxk"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"
URL = f"/inquiries/site-form?token={SOURCES['site-form']['secret']}"
HEALTH_BOUND_S = 1.0  # generous: the stall it guards against was 12 s; the answer takes milliseconds


def part(name: str, value: str, *, extra: str = "") -> bytes:
    return (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"{extra}\r\n\r\n{value}\r\n'
            .encode())


def form(*parts: bytes) -> bytes:
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


@pytest.fixture
async def channels(db_url: str, tmp_path: Path) -> AsyncIterator[TestClient]:
    app = build_app(channel_settings(db_url, tmp_path / "state"), database_url=db_url, apply_migrations=False)
    async with TestClient(TestServer(app)) as client:
        yield client


def test_a_form_is_read_with_crlf_or_bare_newlines_and_files_are_skipped() -> None:
    body = form(part("Name", "Анна"), part("phone", "+7 916 123-45-67"), part("Name", "second"),
                part("cv", "file bytes", extra='; filename="cv.txt"'), part("comment", 'a;b "c"'))
    expected = {"Name": "Анна", "phone": "+7 916 123-45-67", "comment": 'a;b "c"'}
    assert multipart.form_fields(CONTENT_TYPE, body) == expected
    assert multipart.form_fields(CONTENT_TYPE, body.replace(b"\r\n", b"\n")) == expected
    quoted = form(part("a;b", "v"))
    assert multipart.form_fields(f'multipart/form-data; boundary="{BOUNDARY}"', quoted) == {"a;b": "v"}


@pytest.mark.parametrize(("body", "problem"), [
    (form(part("phone", "1", extra="; a=1" * 40_000)), "headers are longer than 8190 bytes"),
    (form(part("phone", "1", extra="; a=1" * 1_000)), "more than 32 parameters"),
    (form(*(part(f"f{i}", "v") for i in range(multipart.MAX_PARTS + 1))), "more than 200 parts"),
], ids=["200-kb-of-parameters", "many-parameters", "many-parts"])
def test_a_form_past_a_bound_is_refused_naming_it(body: bytes, problem: str) -> None:
    with pytest.raises(multipart.MultipartRefused, match=problem):
        multipart.form_fields(CONTENT_TYPE, body)


async def test_health_answers_while_a_hostile_form_is_refused(channels: TestClient, repo: Repository) -> None:
    """A 750 KB part of parameters is a 400 naming the bound, and /health is not held meanwhile."""
    hostile_body = form(part("phone", "+79161234567", extra="; a=1" * 150_000))
    hostile = asyncio.create_task(channels.post(URL, data=hostile_body, headers={"Content-Type": CONTENT_TYPE}))
    waits = []
    while not hostile.done():  # at least once: the task has not run before the first await
        started = asyncio.get_running_loop().time()
        health = await channels.get("/health")
        waits.append(asyncio.get_running_loop().time() - started)
        assert health.status in (200, 503), await health.text()
    resp = await hostile
    assert resp.status == 400, await resp.text()
    assert "headers are longer" in (await resp.json())["error"]
    assert max(waits) < HEALTH_BOUND_S, waits
    assert await repo.pool.fetchval("SELECT count(*) FROM inbox") == 0


async def test_a_multipart_form_is_still_filed(channels: TestClient, repo: Repository) -> None:
    body = form(part("Name", "Анна Смирнова"), part("phone", "+7 916 123-45-67"), part("tranid", "mp-1"))
    resp = await channels.post(URL, data=body, headers={"Content-Type": CONTENT_TYPE})
    assert resp.status == 200, await resp.text()
    assert await repo.pool.fetchval("SELECT count(*) FROM inbox WHERE source = 'site-form'") == 1


async def test_an_inquiry_webhook_logs_with_the_requests_id_and_route(
        channels: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    """The handler used to clear the log context the request middleware had bound."""
    with structlog.testing.capture_logs(processors=[structlog.contextvars.merge_contextvars]) as lines:
        monkeypatch.setattr(endpoints, "log", structlog.get_logger("daemon.inquiries.endpoints"))
        monkeypatch.setattr(webhooks, "log", structlog.get_logger("daemon.intake.webhooks"))
        resp = await channels.post(URL, data=form(part("phone", "1", extra="; a=1" * 1_000)),
                                   headers={"Content-Type": CONTENT_TYPE, "X-Request-Id": "probe-17"})
    assert resp.status == 400
    assert [(line["event"], line.get("request_id"), line.get("route"), line.get("inquiry_source"))
            for line in lines] == [("inquiry_malformed", "probe-17", "/inquiries/{source}", "site-form")]
