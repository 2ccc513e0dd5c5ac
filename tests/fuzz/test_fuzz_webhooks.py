"""Hostile input at the webhook endpoints: thousands of generated bodies, never a 500.

Bodies of every shape reach every endpoint through the real app and a real
database (one per test function, reused across its examples): random bytes,
random forms, invalid UTF-8, random JSON, wrong types, huge strings, control
characters, SQL and HTML fragments, numbers of every length, and valid events
with random field values, signed correctly or not. The rules:

- never a 5xx, and every answer is JSON: ``{"result": ...}`` or ``{"error": ...}``;
- a valid signed event is stored with its ``json`` text verbatim;
- anything else is a 4xx naming the problem, and stores nothing.

CALLBRIDGE_TEST_FUZZ_EXAMPLES sets the number of hostile bodies (2,000 by
default; valid events get half as many, content types a tenth), which keeps
this file well under a minute.
"""

from __future__ import annotations

import asyncio
import json
import os
import urllib.parse
from itertools import count
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, assume, event, example, given, settings
from hypothesis import strategies as st

from adapters.mango.models import MAX_EPOCH_S
from adapters.mango.signature import sign
from adapters.mango.translate import EVENT_PATHS
from config.settings import WEBHOOK_BODY_LIMIT_BYTES
from daemon.store.repository import Repository
from tests.conftest import API_KEY, API_SALT, auth, fixture_json

EXAMPLES = int(os.environ.get("CALLBRIDGE_TEST_FUZZ_EXAMPLES") or 2000)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    # One app and one database serve every example of a test (creating them per example
    # would cost more than the examples), so function-scoped fixtures are intended here.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large],
)
# Per test, past the suite's 60 s: generous, since other work may share the two cores.
FUZZ_TIMEOUT_S = 60 + EXAMPLES * 0.04
# Valid events each cost a whole pipeline transaction: half as many keep the file under a minute.
HALF = settings(FUZZ, max_examples=max(50, EXAMPLES // 2))
FEWER = settings(FUZZ, max_examples=max(50, EXAMPLES // 10))

FORM = "application/x-www-form-urlencoded"
ANSWERS = {200, 400, 403, 413, 415}
RESULTS = {"stored", "duplicate", "spooled", "ignored"}
PATHS = [*EVENT_PATHS, "result/route", "result/callback", "result/sms", "result/", "stat", "ping", ""]
TEMPLATES = {  # one real event of every kind, from the PBX's examples
    step["path"].lstrip("/"): step["json"]
    for name in ("answered_incoming.json", "transfer_blind.json", "missed_incoming.json")
    for step in fixture_json(name)["steps"]
}
TEMPLATES |= {
    "events/dtmf": {"entry_id": "e", "call_id": "c", "seq": 1, "dtmf": "1", "location": "ivr",
                    "timestamp": 1760000000},
    "events/sms": {"command_id": "sms-1", "reason": 0, "timestamp": 1760000000},
    "result/route": {"command_id": "route-1", "result": 1000, "timestamp": 1760000000},
}
FIELD_NAMES = sorted({k for t in TEMPLATES.values() for k in t} | {"number", "extension", "line_number"})

# -- values ----------------------------------------------------------------------------------

HOSTILE_TEXT = st.sampled_from([
    "'; DROP TABLE inbox; --", "1 OR 1=1", "$1", "%s", "{}", "\\", "\\x00", "' || pg_sleep(10) --",
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "&amp;&lt;", "]]>", "{{7*7}}",
    "\x00", "\x00\x01\x1f\x7f", "\u2028\u2029", "\ufeff", "\ud800", "\udfff", "\U0001f600",
    "sip:79161234567@trunk", "tel:+79161234567", "sip:@", "+", "8 (916) 123-45-67", "7" * 64,
    "7916\uff11\uff12\uff13\uff14\uff15\uff16\uff17", "\u0667\u0669\u0661\u0666\u0661\u0662\u0663\u0664\u0665\u0666\u0667",
    "7916\u00b2234567", "sip:7916\uff11\uff12\uff13\uff14\uff15\uff16\uff17@trunk",
    "", " ", "null", "NaN", "-0", "1e999",
])
NUMBERS = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**80), max_value=10**80),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=0, max_value=80).map(lambda n: "9" * n),
    st.integers(min_value=0, max_value=80).map(lambda n: "-" + "1" * n),
)
TEXT = st.one_of(
    st.text(max_size=40),
    st.text(st.characters(codec=None), max_size=40),  # lone surrogates too (sent as \\u escapes)
    HOSTILE_TEXT,
    st.integers(min_value=0, max_value=3000).map(lambda n: "Я" * n),  # long, multi-byte
)
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=8),
                                                                 inner, max_size=5),
    max_leaves=12,
)


_serial = count()
UNIQUE_IDS = frozenset({"entry_id", "call_id", "recording_id", "command_id"})


def _unique(text: str) -> str:
    """Ids unique to the example (so each one is stored, not a duplicate), random otherwise."""
    return f"{next(_serial)}~{text}"[:128]


def dumps(value: Any, *, compact: bool, ascii_only: bool) -> str:
    """JSON text as a sender might write it; a lone surrogate can only travel as an escape."""
    separators = (",", ":") if compact else (", ", ": ")
    try:
        text = json.dumps(value, ensure_ascii=ascii_only, separators=separators, allow_nan=True)
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(value, ensure_ascii=True, separators=separators, allow_nan=True)
    return text


@st.composite
def mutated_events(draw: st.DrawFn) -> tuple[str, Any]:
    """A real event with some fields replaced, removed or added: wrong types where right ones live."""
    path = draw(st.sampled_from(sorted(TEMPLATES)))
    event = {k: _unique(v) if k in UNIQUE_IDS else v for k, v in json.loads(json.dumps(TEMPLATES[path])).items()}
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        action = draw(st.sampled_from(["set", "drop", "nest"]))
        key = draw(st.sampled_from(FIELD_NAMES) | st.text(max_size=6))
        if action == "set":
            event[key] = draw(JSON_VALUES)
        elif action == "drop":
            event.pop(key, None)
        else:
            party = event.setdefault(draw(st.sampled_from(["from", "to"])), {})
            if isinstance(party, dict):
                party[draw(st.sampled_from(["number", "extension", "line_number", "acd_group"]))] = draw(SCALARS)
    return path, draw(st.sampled_from([event] * 6 + [[event], draw(JSON_VALUES)]))


# -- bodies ----------------------------------------------------------------------------------

def urlencode(fields: list[tuple[str, str]]) -> bytes:
    return urllib.parse.urlencode(fields).encode("ascii")


@st.composite
def hostile_requests(draw: st.DrawFn) -> tuple[str, str, bytes, str | None]:
    """(path, content type, body, the json text when the body carries a correctly signed one)."""
    path = draw(st.sampled_from(PATHS) | st.text(st.characters(min_codepoint=33, max_codepoint=126,
                                                               exclude_characters="?#%"), max_size=12))
    kind = draw(st.sampled_from(["bytes", "form", "multipart"] + ["signed"] * 6))
    if kind == "bytes":
        return path, FORM, draw(st.binary(max_size=300)), None
    if kind == "form":
        fields = draw(st.lists(st.tuples(st.sampled_from(["vpbx_api_key", "sign", "json"]) | st.text(max_size=5),
                                         st.text(max_size=40) | HOSTILE_TEXT.filter(_encodable)),
                               max_size=5))
        body = urlencode(fields)
        if draw(st.booleans()):
            body += b"&json=%FF%FE%80" + draw(st.binary(max_size=20)).replace(b"&", b"")  # invalid UTF-8
        return path, FORM, body, None
    mutated = draw(st.integers(min_value=0, max_value=4)) > 0
    target, value = draw(mutated_events()) if mutated else (path, draw(JSON_VALUES))
    text = dumps(value, compact=draw(st.booleans()), ascii_only=draw(st.booleans()))
    honest = draw(st.integers(min_value=0, max_value=9)) > 0
    key = API_KEY if honest else draw(st.sampled_from([API_KEY, "not-the-key", ""]))
    signature = sign(API_KEY, text, API_SALT) if honest else draw(
        st.sampled_from([sign(API_KEY, text, "wrong-salt"), "", "0" * 64, sign(API_KEY, text + " ", API_SALT)]))
    fields = [("vpbx_api_key", key), ("sign", signature), ("json", text)]
    signed_text = text if honest else None
    if kind == "multipart":
        return target, f"multipart/form-data; boundary={MULTIPART_BOUNDARY}", _multipart_bytes(fields), signed_text
    return target, FORM, urlencode(fields), signed_text


MULTIPART_BOUNDARY = "callbridge-fuzz-boundary"


def _multipart_bytes(fields: list[tuple[str, str]]) -> bytes:
    parts = [
        f'--{MULTIPART_BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields
    ]
    return ("".join(parts) + f"--{MULTIPART_BOUNDARY}--\r\n").encode("utf-8")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# -- checks ----------------------------------------------------------------------------------

async def _post(client: TestClient, path: str, content_type: str, body: bytes) -> tuple[int, Any]:
    resp = await client.post("/mango/" + path, data=body, headers={"Content-Type": content_type})
    text = await resp.text()
    assert resp.status in ANSWERS, (resp.status, text)
    answer = json.loads(text)  # every answer is JSON, errors included
    if resp.status == 200:
        assert answer["result"] in RESULTS, answer
    else:
        assert isinstance(answer["error"], str) and answer["error"], answer
    return resp.status, answer


async def _stored_verbatim(repo: Repository, path: str, text: str) -> bool:
    return await repo.pool.fetchval(
        "SELECT count(*) FROM inbox WHERE path = $1 AND raw = $2", path.strip("/"), text) == 1


@pytest.mark.timeout(FUZZ_TIMEOUT_S)
@FUZZ
@given(request=hostile_requests())
@example(request=("events/call", FORM, b"vpbx_api_key=x&sign=y&json=%FF", None))
@example(request=("events/call", FORM, b"\xff\xfe\x00", None))
async def test_hostile_bodies_never_get_a_500(client: TestClient, repo: Repository,
                                              request: tuple[str, str, bytes, str | None]) -> None:
    path, content_type, body, signed_text = request
    status, answer = await _post(client, path, content_type, body)
    event(f"{status} {answer.get('result') or answer.get('error')}")
    if status == 200 and answer["result"] == "stored":
        assert signed_text is not None
        assert await _stored_verbatim(repo, path, signed_text)


# -- valid events with random values ---------------------------------------------------------

IDS = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=0, max_size=100)
INT_TEXT = st.integers(min_value=0, max_value=2**31).flatmap(lambda n: st.sampled_from([n, str(n)]))
EPOCHS = st.integers(min_value=0, max_value=MAX_EPOCH_S).flatmap(lambda n: st.sampled_from([n, str(n)]))
OPT_EPOCH = st.none() | st.just("") | EPOCHS
OPT_INT = st.none() | st.just("") | st.integers(min_value=-(2**62), max_value=2**62).flatmap(
    lambda n: st.sampled_from([n, str(n)]))
CODES = st.none() | st.just("") | st.integers(min_value=-(2**31), max_value=2**31 - 1).flatmap(
    lambda n: st.sampled_from([n, str(n)]))
TEXTISH = st.none() | st.just("") | st.integers(min_value=0, max_value=10**15) | st.text(
    st.characters(codec="utf-8"), max_size=60) | HOSTILE_TEXT.filter(_encodable)
PARTY = st.fixed_dictionaries({}, optional={
    "number": TEXTISH, "extension": TEXTISH, "line_number": TEXTISH, "acd_group": TEXTISH,
    "taken_from_call_id": TEXTISH, "was_transferred": st.booleans(),
})
EXTRA = st.dictionaries(st.text(min_size=1, max_size=8).filter(lambda k: k not in FIELD_NAMES + ["from", "to"]),
                        JSON_VALUES, max_size=3)


def valid_event(path: str) -> st.SearchStrategy[dict[str, Any]]:
    ident = IDS.map(_unique)
    common = {"timestamp": EPOCHS}
    shapes: dict[str, tuple[dict, dict]] = {
        "events/call": ({"entry_id": ident, "call_id": ident, "seq": INT_TEXT, "timestamp": EPOCHS,
                         "call_state": st.sampled_from(["Appeared", "Connected", "OnHold", "Disconnected"])},
                        {"location": TEXTISH, "from": PARTY, "to": PARTY, "disconnect_reason": CODES,
                         "command_id": TEXTISH, "transfer": TEXTISH}),
        "events/summary": ({"entry_id": ident, "call_direction": st.sampled_from([0, 1, 2, "0", "1", "2"]),
                            "create_time": EPOCHS, "end_time": EPOCHS},
                           {"from": PARTY, "to": PARTY, "line_number": TEXTISH, "forward_time": OPT_EPOCH,
                            "talk_time": OPT_EPOCH, "entry_result": OPT_INT, "disconnect_reason": CODES}),
        "events/recording": ({"recording_id": ident, "entry_id": ident, "timestamp": EPOCHS,
                              "recording_state": st.sampled_from(["Started", "Continued", "Completed"])},
                             {"call_id": TEXTISH, "seq": OPT_INT, "extension": TEXTISH,
                              "completion_code": OPT_INT}),
        "events/record/added": ({"entry_id": ident, "recording_id": ident, **common},
                                {"product_id": OPT_INT, "user_id": OPT_INT}),
        "events/dtmf": ({"entry_id": ident, "call_id": ident, **common},
                        {"seq": OPT_INT, "dtmf": TEXTISH, "location": TEXTISH}),
        "events/sms": ({"command_id": ident}, {"reason": CODES, "timestamp": EPOCHS}),
        "result/route": ({"command_id": ident, "result": st.integers(min_value=0, max_value=10**6)},
                         {"timestamp": EPOCHS}),
    }
    required, optional = shapes[path]
    return st.tuples(st.fixed_dictionaries(required, optional=optional), EXTRA).map(
        lambda pair: {**pair[1], **pair[0]})


VALID_PATHS = ["events/call", "events/summary", "events/recording", "events/record/added", "events/dtmf",
               "events/sms", "result/route"]


@st.composite
def valid_requests(draw: st.DrawFn) -> tuple[str, str]:
    path = draw(st.sampled_from(VALID_PATHS))
    event = draw(valid_event(path))
    return path, dumps(event, compact=draw(st.booleans()), ascii_only=draw(st.booleans()))


@pytest.mark.timeout(FUZZ_TIMEOUT_S)
@HALF
@given(request=valid_requests())
async def test_valid_events_with_random_values_are_stored_verbatim(
    client: TestClient, repo: Repository, request: tuple[str, str]
) -> None:
    path, text = request
    form = {"vpbx_api_key": API_KEY, "sign": sign(API_KEY, text, API_SALT), "json": text}
    # A valid event is one the PBX can send: over the body limit it is a 413 (tested below).
    assume(len(urllib.parse.urlencode(form)) <= WEBHOOK_BODY_LIMIT_BYTES)
    resp = await client.post("/mango/" + path, data=form)
    answer = await resp.json()
    assert (resp.status, answer) == (200, {"result": "stored"}), text
    assert await _stored_verbatim(repo, path, text)


# -- size, type and replays ------------------------------------------------------------------

APPEARED = TEMPLATES["events/call"]


async def _raw_exchange(client: TestClient, head: bytes, body_part: bytes) -> bytes:
    """Send the head and part of a body, never the rest; return what the server answers."""
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write(head + body_part)
        await writer.drain()
        return await asyncio.wait_for(reader.read(4096), timeout=10)
    finally:
        writer.close()


@pytest.mark.parametrize("declared", [WEBHOOK_BODY_LIMIT_BYTES + 1, 10**9])
async def test_oversized_body_is_413_before_it_is_read_whole(client: TestClient, repo: Repository,
                                                             declared: int) -> None:
    """The declared length alone is enough: the server answers without waiting for the body."""
    head = (f"POST /mango/events/call HTTP/1.1\r\nHost: x\r\nContent-Type: {FORM}\r\n"
            f"Content-Length: {declared}\r\n\r\n").encode()
    answer = await _raw_exchange(client, head, b"json=" + b"A" * 1000)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"error"' in answer
    assert await repo.pool.fetchval("SELECT count(*) FROM inbox") == 0


async def test_oversized_chunked_body_is_413_once_past_the_limit(client: TestClient, repo: Repository) -> None:
    """Without a length, reading stops at the limit: the rest is never awaited."""
    head = (f"POST /mango/events/call HTTP/1.1\r\nHost: x\r\nContent-Type: {FORM}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n").encode()
    chunk = b"A" * 16384
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(WEBHOOK_BODY_LIMIT_BYTES // len(chunk) + 2))
    answer = await _raw_exchange(client, head, body)  # no terminating chunk: the sender is still "sending"
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert await repo.pool.fetchval("SELECT count(*) FROM inbox") == 0


@FEWER
@given(content_type=st.sampled_from(["application/json", "text/plain", "text/html", "application/xml",
                                      "application/octet-stream", ""])
       | st.from_regex(r"\A[a-z]{1,10}/[a-z0-9.+-]{1,20}\Z").filter(
           lambda t: t not in (FORM, "multipart/form-data")))
async def test_wrong_content_type_is_415(client: TestClient, repo: Repository, content_type: str) -> None:
    text = json.dumps(APPEARED)
    body = urlencode([("vpbx_api_key", API_KEY), ("sign", sign(API_KEY, text, API_SALT)), ("json", text)])
    resp = await client.post("/mango/events/call", data=body, headers={"Content-Type": content_type})
    assert resp.status == 415, await resp.text()
    assert "error" in await resp.json()
    assert await repo.pool.fetchval("SELECT count(*) FROM inbox") == 0


async def test_a_replayed_valid_request_is_harmless(client: TestClient, repo: Repository) -> None:
    """The same signed request, again and again and at once: one inbox row, one unchanged communication."""
    text = json.dumps(APPEARED, separators=(",", ":"))
    form = {"vpbx_api_key": API_KEY, "sign": sign(API_KEY, text, API_SALT), "json": text}
    first = await client.post("/mango/events/call", data=form)
    assert await first.json() == {"result": "stored"}
    before = [dict(r) for r in await repo.pool.fetch("SELECT * FROM communications")]
    again = [await client.post("/mango/events/call", data=form) for _ in range(5)]
    at_once = await asyncio.gather(*(client.post("/mango/events/call", data=form) for _ in range(20)))
    for resp in again + list(at_once):
        assert (resp.status, await resp.json()) == (200, {"result": "duplicate"})
    assert await repo.pool.fetchval("SELECT count(*) FROM inbox") == 1
    assert [dict(r) for r in await repo.pool.fetch("SELECT * FROM communications")] == before


# -- what the fuzzing found, kept as examples ----------------------------------------------------

def _call(**fields: Any) -> dict[str, Any]:
    return {"entry_id": f"regression-{next(_serial)}", "call_id": f"leg-{next(_serial)}", "seq": 1,
            "timestamp": 1760000000, "call_state": "Appeared", **fields}


def _summary(**fields: Any) -> dict[str, Any]:
    return {"entry_id": f"regression-{next(_serial)}", "call_direction": 1, "create_time": 1760000000,
            "end_time": 1760000100, **fields}


REGRESSIONS = [
    # A NUL in a field we use: PostgreSQL's jsonb refused "\u0000" (500). Now U+FFFD in the
    # derived event; the inbox keeps the text as signed.
    pytest.param("events/call", _call(location="\u0000"), 200, id="nul-in-location"),
    pytest.param("events/call", _call(**{"from": {"number": "7916\u00001234567"}}), 200, id="nul-in-number"),
    pytest.param("events/call", _call(location="\ud800"), 400, id="lone-surrogate"),
    # A code past PostgreSQL's integer: the insert overflowed (500). Now 400 naming the field.
    pytest.param("events/summary", _summary(disconnect_reason=2147483648), 400, id="int4-overflow"),
    pytest.param("events/call", _call(call_state="Disconnected", disconnect_reason=-(2**31) - 1), 400,
                 id="int4-underflow"),
    # An int too long for a float where text is expected: float() overflowed (500).
    pytest.param("events/call", _call(**{"from": {"number": 10**400}}), 200, id="huge-int-as-text"),
    # A time past year 9999 was stored but could not be read back (the read API would fail).
    pytest.param("events/call", _call(timestamp=253402300800), 400, id="epoch-past-year-9999"),
    pytest.param("events/summary", _summary(talk_time=2**62), 400, id="talk-time-past-year-9999"),
    # A 9999-year call: talk_seconds overflowed its integer column (500). Now capped.
    pytest.param("events/summary", _summary(create_time=0, talk_time=1, end_time=253402300799, entry_result=1),
                 200, id="talk-seconds-overflow"),
]


@pytest.mark.parametrize(("path", "event", "status"), REGRESSIONS)
async def test_what_fuzzing_found_is_answered_without_a_500(client: TestClient, repo: Repository, path: str,
                                                           event: dict[str, Any], status: int) -> None:
    text = json.dumps(event)
    resp = await client.post("/mango/" + path, data={"vpbx_api_key": API_KEY, "sign": sign(API_KEY, text, API_SALT),
                                                     "json": text})
    answer = await resp.json()
    assert resp.status == status, answer
    if status == 200:
        assert answer == {"result": "stored"}
        assert await _stored_verbatim(repo, path, text)
        # ...and what was stored can be read back through the API: a 200 listing the
        # call when it has a contact (a 400 fails here with its reason in the message).
        row = await repo.pool.fetchrow("SELECT contact_id FROM communications WHERE entry_id = $1",
                                       event.get("entry_id"))
        contact_id = row["contact_id"] if row and row["contact_id"] else 1
        comms = await client.get("/api/communications", params={"contact_id": str(contact_id)}, headers=auth())
        listed = await comms.json()
        assert comms.status == 200, listed
        if row and row["contact_id"]:
            assert event["entry_id"] in [c["entry_id"] for c in listed], listed
    else:
        assert answer["error"] == "invalid event" and answer["fields"], answer


# -- hostile classes found by probing a running daemon ------------------------

DEEP = "[" * 5000 + "]" * 5000  # past the interpreter's recursion limit, well under the body limit
JSON_TYPE = {"Content-Type": "application/json"}


def _signed_body(payload: Any) -> bytes:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return urlencode([("vpbx_api_key", API_KEY), ("sign", sign(API_KEY, text, API_SALT)), ("json", text)])


async def _assert_4xx_with_reason(resp: Any, *statuses: int) -> dict[str, Any]:
    text = await resp.text()
    assert resp.status in statuses, (resp.status, text)
    answer = json.loads(text)
    assert isinstance(answer["error"], str) and answer["error"], answer
    return answer


HOSTILE_WEBHOOKS = [
    pytest.param("events/call", {"Content-Type": f"{FORM}; charset=klingon"}, _signed_body(APPEARED),
                 "charset", id="unknown-charset"),
    pytest.param("events/call", {"Content-Type": FORM, "Content-Encoding": "gzip"}, b"not gzip at all",
                 "decoded", id="undecodable-gzip"),
    pytest.param("events/call", {"Content-Type": FORM, "Content-Encoding": "deflate"}, b"\x00\x01 nope",
                 "decoded", id="undecodable-deflate"),
    pytest.param("events/call", {"Content-Type": FORM}, _signed_body(DEEP), "nested", id="deeply-nested-json"),
    pytest.param("result/rou%00te", {"Content-Type": FORM}, _signed_body({"command_id": "x", "result": 1}),
                 "result path", id="nul-in-result-path"),
    pytest.param("result/" + "r" * 3000, {"Content-Type": FORM}, _signed_body({"command_id": "x", "result": 1}),
                 "result path", id="overlong-result-path"),
]


@pytest.mark.parametrize(("path", "headers", "body", "word"), HOSTILE_WEBHOOKS)
async def test_hostile_webhook_classes_get_a_400_with_a_reason(client: TestClient, repo: Repository, path: str,
                                                              headers: dict[str, str], body: bytes,
                                                              word: str) -> None:
    """Each class once answered 500 (or dropped the connection); now a 400 that says why, nothing stored."""
    resp = await client.post("/mango/" + path, data=body, headers=headers)
    answer = await _assert_4xx_with_reason(resp, 400)
    assert word in answer["error"], answer
    assert await repo.pool.fetchval("SELECT count(*) FROM inbox") == 0


@pytest.mark.parametrize("number", ["7916\uff11\uff12\uff13\uff14\uff15\uff16\uff17",  # full-width digits
                                    "\u0667\u0669\u0661\u0666\u0661\u0662\u0663\u0664\u0665\u0666\u0667"])
async def test_a_number_in_other_digits_is_stored_as_the_phone_it_spells(client: TestClient, repo: Repository,
                                                                          number: str) -> None:
    """Unicode digits passed \\d and reached the E.164 CHECK: every event of the call was refused (500)."""
    event = {**APPEARED, "entry_id": f"wide-{next(_serial)}", "call_id": f"wide-{next(_serial)}",
             "from": {"number": number}}
    text = json.dumps(event, ensure_ascii=False)
    resp = await client.post("/mango/events/call", data={"vpbx_api_key": API_KEY,
                                                         "sign": sign(API_KEY, text, API_SALT), "json": text})
    assert (resp.status, await resp.json()) == (200, {"result": "stored"})
    row = await repo.pool.fetchrow("SELECT phone, phone_raw FROM communications WHERE entry_id = $1",
                                   event["entry_id"])
    assert (row["phone"], row["phone_raw"]) == ("+79161234567", number)


async def test_a_signed_result_replayed_under_other_paths_is_stored_once(client: TestClient,
                                                                         repo: Repository) -> None:
    """Results are keyed by command id: the same signed body under /result/<anything> adds no row."""
    body = _signed_body({"command_id": "route-replayed", "result": 1000, "timestamp": 1760000000})
    answers = []
    for path in ("route", "callback", "sms", "anything", "a/b"):
        resp = await client.post("/mango/result/" + path, data=body, headers={"Content-Type": FORM})
        answers.append((await resp.json())["result"])
    assert answers == ["stored", "duplicate", "duplicate", "duplicate", "duplicate"]
    assert await repo.pool.fetchval("SELECT count(*) FROM inbox") == 1


def _api_requests() -> list[Any]:
    ids = {"nul": "a\x00b"}
    return [
        pytest.param("PUT", "/api/communications/1/note", DEEP, 400, id="deep-json-note"),
        pytest.param("PUT", "/api/contacts/1/name", DEEP, 400, id="deep-json-name"),
        pytest.param("POST", "/api/calls", DEEP, 400, id="deep-json-click-to-call"),
        pytest.param("PUT", "/api/communications/1/note", json.dumps({"note": ids["nul"]}), 400, id="nul-in-note"),
        pytest.param("PUT", "/api/contacts/1/name", json.dumps({"name": ids["nul"]}), 400, id="nul-in-name"),
        pytest.param("PUT", "/api/contacts/1/name", '{"name": "a\\ud800b"}', 400, id="surrogate-in-name"),
        pytest.param("PUT", "/api/communications/1/note", '{"note": "\\udfff"}', 400, id="surrogate-in-note"),
        pytest.param("POST", "/api/calls", json.dumps({"extension": "10\x001", "phone": "79161234567"}), 400,
                     id="nul-in-extension"),
        pytest.param("POST", "/api/calls", '{"extension": "\\ud800", "phone": "79161234567"}', 400,
                     id="surrogate-in-extension"),
        pytest.param("GET", "/api/communications?contact_id=1&since=0001-01-01T00:00:00%2B05:00", None, 400,
                     id="since-before-year-1"),
        pytest.param("GET", "/api/communications?contact_id=1&until=9999-12-31T23:59:59-05:00", None, 400,
                     id="until-after-year-9999"),
        pytest.param("GET", "/api/reports/missed?since=0001-01-01T00:00:00", None, 400, id="report-since-year-1"),
        pytest.param("PUT", "/api/communications/" + "9" * 5000 + "/note", '{"note": "x"}', 404,
                     id="id-of-5000-digits"),
        pytest.param("PUT", "/api/contacts/" + "9" * 30 + "/name", '{"name": "x"}', 404, id="id-past-bigint"),
        pytest.param("PUT", "/api/communications/\u0661\u0662/note", '{"note": "x"}', 404,
                     id="id-in-arabic-indic-digits"),
        pytest.param("GET", "/api/communications?contact_id=\u0661\u0662", None, 400,
                     id="contact-id-in-arabic-indic-digits"),
        pytest.param("GET", "/api/communications?contact_id=" + "9" * 3000, None, 400, id="contact-id-of-3000-digits"),
    ]


@pytest.mark.parametrize(("method", "url", "body", "status"), _api_requests())
async def test_hostile_api_requests_get_a_4xx_with_a_reason(client: TestClient, repo: Repository, method: str,
                                                           url: str, body: str | None, status: int) -> None:
    await repo.pool.execute("INSERT INTO contacts (name) VALUES ('Someone')")
    resp = await client.request(method, url, data=body, headers={**auth(), **JSON_TYPE})
    await _assert_4xx_with_reason(resp, status)
    assert await repo.pool.fetchval("SELECT name FROM contacts") == "Someone"


async def test_a_ui_file_name_over_255_bytes_is_a_404_that_names_no_path(
        client: TestClient, capsys: pytest.CaptureFixture[str]) -> None:
    """The OS refused the lookup (ENAMETOOLONG): a 500 whose log line held the install path."""
    for name in ("a" * 300, "я" * 200, "index.html%00.js", "..%2Fapp.py"):
        resp = await client.get("/ui/" + name)
        answer = await _assert_4xx_with_reason(resp, 404)
        assert "/" not in answer["error"]
    assert "daemon/screen/static" not in capsys.readouterr().err


async def test_a_deeply_nested_websocket_auth_message_closes_the_socket(client: TestClient) -> None:
    """4 KiB of "[" in the token message raised RecursionError in the handler; now a plain refusal."""
    async with client.ws_connect("/ws?extension=101") as ws:
        await ws.send_str("[" * 4000)
        msg = await ws.receive(timeout=10)
    assert ws.close_code == 4401, msg


async def test_every_answer_carries_a_request_id_and_echoes_a_sane_one(client: TestClient) -> None:
    """The request middleware binds a request id for every route (webhooks, API, health, errors)."""
    sent = await client.get("/health", headers={"X-Request-Id": "probe-42"})
    assert sent.headers["X-Request-Id"] == "probe-42"
    hostile = await client.get("/api/communications", headers={**auth(), "X-Request-Id": "x" * 500})
    assert hostile.status == 400 and len(hostile.headers["X-Request-Id"]) == 32
    missing = await client.get("/no/such/route")
    assert missing.status == 404 and "error" in await missing.json()
    assert missing.headers["X-Request-Id"]
