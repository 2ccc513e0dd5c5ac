"""Hostile input at the inquiry endpoints: generated bodies from every sender, never a 500.

Each configured source and ``/api/inquiries`` gets, with its right secret,
random bytes, random forms, random JSON, and the real examples with fields
replaced by values of the wrong type, huge, empty, hostile or malformed. The
rules: never a 5xx; an error is JSON naming the problem; a 2xx is the answer
the sender expects. One app and one database serve all examples of a test.
"""

from __future__ import annotations

import json
import os
import random
import urllib.parse
from collections.abc import AsyncIterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from daemon.runtime.app import build_app
from tests.channels import ORDER, SOURCES, channel_settings, source_of
from tests.channels import example as load_example
from tests.conftest import API_TOKEN

EXAMPLES = int(os.environ.get("CALLBRIDGE_TEST_FUZZ_EXAMPLES") or 2000) // 4
FUZZ = settings(max_examples=max(100, EXAMPLES), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])
FUZZ_TIMEOUT_S = 60 + EXAMPLES * 0.08
ANSWERS = {200, 201, 202, 400, 403, 404, 409, 413}  # 409: the API posting as a webhook source
ENDPOINTS = [*SOURCES, "api"]
TEMPLATES = [load_example(name) for name in ORDER]

# Longer than any identifier and than a b-tree entry (2.7 kB) even compressed: an e-mail, a
# phone or a messenger id like this made the whole inquiry unstorable (503 on every retry).
NOISE = "".join(random.Random(17).choice("абвгдежзийклмнопрстуфхцчшщыэюя") for _ in range(3000))
HOSTILE = st.sampled_from([NOISE, NOISE + "@почта.рф",
    "'; DROP TABLE inbox; --", "$1", "%s", "\x00", "a\x00b", "\ud800", "\udfff", "\U0001f600", "\u2028",
    "<script>alert(1)</script>", "", " ", "null", "NaN", "1e999", "-1", "0", "7" * 64, "+", "test=test",
    "8 (916) 123-45-67", "a@b.c", "Я" * 500, "|||", "utm_source=x|||", "TILDAUTM=%ZZ",
])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=-(10**40), max_value=10**40),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=30),
                    st.text(st.characters(codec=None), max_size=20), HOSTILE)
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=10)
_serial = count()


def dumps(value: Any) -> bytes:
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=True).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(value, ensure_ascii=True, allow_nan=True).encode("utf-8")


def _keys(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a JSON value, for replacing what lives there."""
    paths = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            paths += _keys(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            paths += _keys(v, (*prefix, i))
    return paths


def _set(value: Any, path: tuple[Any, ...], new: Any) -> None:
    for step in path[:-1]:
        value = value[step]
    if isinstance(value, dict) or (isinstance(value, list) and isinstance(path[-1], int)):
        value[path[-1]] = new


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, bytes]:
    """(endpoint, content type, body)."""
    endpoint = draw(st.sampled_from(ENDPOINTS))
    shape = draw(st.sampled_from(["mutated"] * 6 + ["json", "bytes", "form"]))
    if shape == "bytes":
        return endpoint, draw(st.sampled_from(["application/json", "application/x-www-form-urlencoded",
                                               "multipart/form-data; boundary=x", ""])), draw(st.binary(max_size=200))
    if shape == "json":
        return endpoint, "application/json", dumps(draw(JSON_VALUES))
    if shape == "form":
        fields = draw(st.lists(st.tuples(st.sampled_from(["Name", "phone", "tel", "email", "tranid", "COOKIES",
                                                          "utm_source", "page", "submission_id", "test"])
                                         | st.text(max_size=6), st.text(max_size=40)), max_size=6))
        try:
            body = urllib.parse.urlencode(fields).encode("ascii")
        except UnicodeEncodeError:
            body = b"x=%FF%FE"
        return endpoint, "application/x-www-form-urlencoded", body
    template = draw(st.sampled_from(TEMPLATES))
    endpoint = "api" if template["channel"] == "api" else source_of(template)
    body = json.loads(json.dumps(template["request"]["body"]))
    if isinstance(body, str):
        fields = urllib.parse.parse_qsl(body, keep_blank_values=True)
        for _ in range(draw(st.integers(min_value=1, max_value=3))):
            if fields:
                i = draw(st.integers(min_value=0, max_value=len(fields) - 1))
                fields[i] = (fields[i][0], draw(st.text(max_size=40) | HOSTILE.filter(_encodable)))
        fields.append(("tranid", f"fuzz:{next(_serial)}"))
        return endpoint, "application/x-www-form-urlencoded", urllib.parse.urlencode(fields).encode("utf-8")
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = _keys(body)  # again after each change: a replaced object has no inside any more
        if paths:
            _set(body, draw(st.sampled_from(paths)), draw(JSON_VALUES))
    for key in ("update_id", "event_id", "external_id", "submission_id"):
        if isinstance(body, dict) and key in body and draw(st.booleans()):
            body[key] = f"fuzz-{next(_serial)}"
    if isinstance(body, dict) and endpoint == "vk-group":
        body["secret"] = SOURCES["vk-group"]["secret"]
    return endpoint, "application/json", dumps(body)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _url_and_headers(endpoint: str, content_type: str) -> tuple[str, dict[str, str]]:
    headers = {"Content-Type": content_type} if content_type else {}
    if endpoint == "api":
        return "/api/inquiries", headers | {"Authorization": f"Bearer {API_TOKEN}"}
    secret = SOURCES[endpoint]["secret"]
    headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    headers["Authorization"] = f"Bearer {secret}"
    return f"/inquiries/{endpoint}?token={secret}", headers


@pytest.fixture
async def channels(db_url: str, tmp_path: Path) -> AsyncIterator[TestClient]:
    app = build_app(channel_settings(db_url, tmp_path / "state"), database_url=db_url, apply_migrations=False)
    async with TestClient(TestServer(app)) as client:
        yield client


@pytest.mark.timeout(FUZZ_TIMEOUT_S)
@FUZZ
@given(request=requests())
@example(request=("tg-bot", "application/json", b'{"update_id": 1, "message": {"message_id": 1, "chat": {"id": 1},'
                  b' "from": {"id": "\\u0000"}, "text": "\\ud800"}}'))
@example(request=("jivo-chat", "application/json", b'{"event_name": "chat_finished", "chat_id": 1, "agents": 5,'
                  b' "chat": {"messages": [{"message": "x", "type": "agent", "timestamp": 1e999}]}}'))
@example(request=("site-form", "multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data;"
                  b' name="phone"\r\n\r\n\x00\xff\r\n--x--\r\n'))
@example(request=("api", "application/json", dumps({"source": "partner", "external_id": "noise-1",
                                                    "phone": "+79991112233", "email": NOISE, "telegram": NOISE})))
@example(request=("site-form", "application/x-www-form-urlencoded",
                  urllib.parse.urlencode({"phone": "89991112234", "email": NOISE}).encode()))
@example(request=("vk-group", "application/json", b'{"type": "lead_forms_new", "secret": "vkS3cretKey2025",'
                  b' "object": {"lead_id": [], "user_id": {}, "answers": [{"key": "email", "answer": [{"value": 1}]},'
                  b' {"answer": null}, 5]}}'))
@example(request=("site-form", "multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data;"
                  b' name="phone"' + b"; a=1" * 40_000 + b"\r\n\r\n1\r\n--x--\r\n"))  # stalled the loop for 12 s
@example(request=("site-form", "multipart/form-data; boundary=x", b"--x\r\nContent-Disposition: form-data;"
                  b' name="a"\r\n\r\n1\r\n' * 5_000 + b"--x--\r\n"))
async def test_nothing_a_sender_posts_gets_a_500(channels: TestClient, request: tuple[str, str, bytes]) -> None:
    endpoint, content_type, body = request
    url, headers = _url_and_headers(endpoint, content_type)
    resp = await channels.post(url, data=body, headers=headers)
    text = await resp.text()
    assert resp.status in ANSWERS, (resp.status, text[:500])
    event(f"{endpoint} {resp.status}")
    if resp.status >= 400:
        assert json.loads(text)["error"], text


# Removing one of these may be refused: the secret, what says what the body is, and
# what holds a dedup key and a way to reply all at once. Anything else is not needed.
MAY_REFUSE_WITHOUT = {("secret",), ("type",), ("event_name",), ("source",), ("external_id",), ("object",),
                      ("object", "message")}
INQUIRY_TEMPLATES = [t for t in TEMPLATES if not (t["expect"].get("skip") or t["expect"].get("reject"))]


@st.composite
def one_field_less(draw: st.DrawFn) -> tuple[str, tuple[Any, ...], bytes]:
    """(endpoint, removed path, body): a real inquiry with one field (at any depth) taken out."""
    template = draw(st.sampled_from(INQUIRY_TEMPLATES))
    endpoint = "api" if template["channel"] == "api" else source_of(template)
    body = json.loads(json.dumps(template["request"]["body"]))
    if isinstance(body, str):
        fields = urllib.parse.parse_qsl(body, keep_blank_values=True)
        gone = fields.pop(draw(st.integers(min_value=0, max_value=len(fields) - 1)))
        return endpoint, (gone[0],), urllib.parse.urlencode(fields).encode("utf-8")
    path = draw(st.sampled_from(_keys(body)))
    parent = body
    for step in path[:-1]:
        parent = parent[step]
    del parent[path[-1]]
    return endpoint, path, dumps(body)


@pytest.mark.timeout(FUZZ_TIMEOUT_S)
@FUZZ
@given(request=one_field_less())
@example(request=("jivo-chat", ("chat_id",), dumps({
    k: v for k, v in load_example("jivo_offline_message")["request"]["body"].items() if k != "chat_id"})))
async def test_a_field_an_adapter_does_not_need_is_never_a_reason_to_refuse(
        channels: TestClient, request: tuple[str, tuple[Any, ...], bytes]) -> None:
    """An adapter requires only its dedup key and a way to reply: any other field of a real
    delivery may be missing and the lead is still taken (Jivo's offline_message without chat_id)."""
    endpoint, path, body = request
    content_type = "application/json" if body[:1] == b"{" else "application/x-www-form-urlencoded"
    url, headers = _url_and_headers(endpoint, content_type)
    resp = await channels.post(url, data=body, headers=headers)
    text = await resp.text()
    event(f"{endpoint} {resp.status}")
    if path not in MAY_REFUSE_WITHOUT:
        assert resp.status < 300, (endpoint, path, resp.status, text[:300])
