"""Hostile input at the messenger endpoints (MAX, Wazzup, Green-API, Avito, Telegram Business):
their real examples with fields replaced by values of the wrong type, huge, empty or hostile,
posted with the right secret. Never a 5xx; an error is JSON naming the problem."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import event, given
from hypothesis import strategies as st

from daemon.runtime.app import build_app
from tests.channels import example as load_example
from tests.fuzz.test_fuzz_inquiries import ANSWERS, FUZZ, FUZZ_TIMEOUT_S, JSON_VALUES, _keys, _set, dumps
from tests.messengers import MESSENGER_EXAMPLES, messenger_settings, replay_headers

TEMPLATES = [load_example(name) for name in MESSENGER_EXAMPLES if not load_example(name)["expect"].get("reject")]


@pytest.fixture
async def messengers(db_url: str, tmp_path: Path) -> AsyncIterator[TestClient]:
    app = build_app(messenger_settings(db_url, tmp_path / "state"), database_url=db_url, apply_migrations=False)
    async with TestClient(TestServer(app)) as client:
        yield client


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, dict[str, str], bytes]:
    """(url, headers, body): a real delivery with one to four values replaced."""
    template = draw(st.sampled_from(TEMPLATES))
    body: Any = json.loads(json.dumps(template["request"]["body"]))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = _keys(body)
        if paths:
            _set(body, draw(st.sampled_from(paths)), draw(JSON_VALUES))
    url, headers = replay_headers(template)
    return url, headers, dumps(body)


@pytest.mark.timeout(FUZZ_TIMEOUT_S)
@FUZZ
@given(request=mutated())
async def test_nothing_a_messenger_posts_gets_a_500(messengers: TestClient,
                                                    request: tuple[str, dict[str, str], bytes]) -> None:
    url, headers, body = request
    resp = await messengers.post(url, data=body, headers=headers)
    text = await resp.text()
    assert resp.status in ANSWERS, (url, resp.status, text[:500])
    event(f"{url.split('?')[0]} {resp.status}")
    if resp.status >= 400:
        assert json.loads(text)["error"], text

