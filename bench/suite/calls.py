"""Whole PBX calls as the PBX sends them: signed form posts, some repeated, some out of order.

An answered inbound call is the manual's walk-through: the IVR leg appears and
hands the caller on, the manager's leg appears, connects and ends, the talk is
recorded, then the summary and ``record/added`` (9 events). A missed call rings
two managers of a group after a key press in the IVR (8 events). One call in
five gets one event delivered twice, and one in three has two neighbouring
events swapped, as parallel at-least-once delivery does.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

from adapters.mango.signature import sign
from bench.suite.contacts import LINES, MANAGER_EXTENSIONS, NUMBER_SPACE, phone_digits

KNOWN_CALLER_SHARE = 0.7
ANSWERED_SHARE = 0.75
DUPLICATE_SHARE = 0.2
SWAP_SHARE = 0.33
ACTIVE_CALLS = 32  # calls in progress at once, whose events interleave


@dataclass(frozen=True)
class Keys:
    api_key: str
    api_salt: str


def _compact(payload: dict) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def answered_call(entry: str, caller: str, line: str, ext: str, t0: int) -> list[tuple[str, dict]]:
    ivr, leg, rec = f"{entry}-ivr", f"{entry}-m", f"{entry}-rec"
    frm, to_line = {"number": caller}, {"number": line, "line_number": line}
    to_mgr = {"extension": ext, "number": f"sip:m{ext}@vpbx400000001.mangosip.ru", "line_number": line}
    return [
        ("events/call", {"entry_id": entry, "call_id": ivr, "timestamp": t0, "seq": 1,
                         "call_state": "Appeared", "location": "ivr", "from": frm, "to": to_line}),
        ("events/call", {"entry_id": entry, "call_id": ivr, "timestamp": t0 + 4, "seq": 2,
                         "call_state": "Disconnected", "location": "ivr", "from": frm, "to": to_line,
                         "disconnect_reason": 1100}),
        ("events/call", {"entry_id": entry, "call_id": leg, "timestamp": t0 + 4, "seq": 1,
                         "call_state": "Appeared", "location": "abonent",
                         "from": {**frm, "taken_from_call_id": ivr}, "to": to_mgr}),
        ("events/call", {"entry_id": entry, "call_id": leg, "timestamp": t0 + 11, "seq": 2,
                         "call_state": "Connected", "location": "abonent", "from": frm, "to": to_mgr}),
        ("events/recording", {"recording_id": rec, "recording_state": "Started", "seq": 1,
                              "entry_id": entry, "call_id": leg, "extension": ext, "timestamp": t0 + 11}),
        ("events/call", {"entry_id": entry, "call_id": leg, "timestamp": t0 + 196, "seq": 3,
                         "call_state": "Disconnected", "location": "abonent", "from": frm, "to": to_mgr,
                         "disconnect_reason": 1110}),
        ("events/recording", {"recording_id": rec, "recording_state": "Completed", "seq": 2,
                              "entry_id": entry, "call_id": leg, "extension": ext, "timestamp": t0 + 196,
                              "completion_code": 1000, "recipient": "Cloud"}),
        ("events/summary", {"entry_id": entry, "call_direction": 1, "from": frm,
                            "to": {"extension": ext, "number": to_mgr["number"]}, "line_number": line,
                            "create_time": t0, "forward_time": t0 + 4, "talk_time": t0 + 11,
                            "end_time": t0 + 196, "entry_result": 1, "disconnect_reason": 1110}),
        ("events/record/added", {"entry_id": entry, "product_id": 300022532, "user_id": 300049012,
                                 "timestamp": t0 + 230, "recording_id": rec}),
    ]


def missed_call(entry: str, caller: str, line: str, ext1: str, ext2: str, t0: int) -> list[tuple[str, dict]]:
    ivr = f"{entry}-ivr"
    frm, to_line = {"number": caller}, {"number": line, "line_number": line}
    events = [
        ("events/call", {"entry_id": entry, "call_id": ivr, "timestamp": t0, "seq": 1,
                         "call_state": "Appeared", "location": "ivr", "from": frm, "to": to_line}),
        ("events/dtmf", {"entry_id": entry, "call_id": ivr, "seq": 2, "dtmf": "1", "location": "ivr.1",
                         "timestamp": t0 + 6}),
        ("events/call", {"entry_id": entry, "call_id": ivr, "timestamp": t0 + 7, "seq": 3,
                         "call_state": "Disconnected", "location": "ivr", "from": frm, "to": to_line,
                         "disconnect_reason": 1100}),
    ]
    for n, ext in enumerate((ext1, ext2)):
        leg = f"{entry}-g{n}"
        to = {"extension": ext, "number": f"sip:m{ext}@vpbx400000001.mangosip.ru", "line_number": line,
              "acd_group": "200"}
        events.insert(3 + n, ("events/call", {
            "entry_id": entry, "call_id": leg, "timestamp": t0 + 7, "seq": 1, "call_state": "Appeared",
            "location": "abonent", "from": {**frm, "taken_from_call_id": ivr}, "to": to}))
        events.append(("events/call", {
            "entry_id": entry, "call_id": leg, "timestamp": t0 + 37, "seq": 2, "call_state": "Disconnected",
            "location": "abonent", "from": frm, "to": to, "disconnect_reason": 1110}))
    events.append(("events/summary", {
        "entry_id": entry, "call_direction": 1, "from": frm, "to": {"extension": ext1}, "line_number": line,
        "create_time": t0, "forward_time": t0 + 7, "talk_time": 0, "end_time": t0 + 37, "entry_result": 0,
        "disconnect_reason": 1110}))
    return events


class CallMaker:
    """Makes calls with fresh entry ids; unknown callers get numbers outside the base."""

    def __init__(self, *, tag: str, base_phones: int, seed: int, t0: int) -> None:
        self.rng = random.Random(seed)
        self.tag = tag
        self.base_phones = base_phones
        self.t0 = t0
        self.made = 0
        # Unknown callers: indices above the base's, so never already a contact.
        self._unknown = base_phones + self.rng.randrange(0, (NUMBER_SPACE - base_phones) // 2)

    def caller(self) -> str:
        if self.base_phones and self.rng.random() < KNOWN_CALLER_SHARE:
            return phone_digits(self.rng.randrange(self.base_phones))
        self._unknown += 1
        return phone_digits(self._unknown)

    def call(self) -> list[tuple[str, dict]]:
        rng = self.rng
        self.made += 1
        entry = f"bench-{self.tag}-{self.made}"
        line = rng.choice(LINES)[0]
        t0 = self.t0 + self.made
        if rng.random() < ANSWERED_SHARE:
            events = answered_call(entry, self.caller(), line, rng.choice(MANAGER_EXTENSIONS), t0)
        else:
            ext1, ext2 = rng.sample(MANAGER_EXTENSIONS, 2)
            events = missed_call(entry, self.caller(), line, ext1, ext2, t0)
        if rng.random() < SWAP_SHARE:
            i = rng.randrange(len(events) - 1)
            events[i], events[i + 1] = events[i + 1], events[i]
        if rng.random() < DUPLICATE_SHARE:
            i = rng.randrange(len(events))
            events.insert(rng.randrange(i + 1, len(events) + 1), events[i])
        return events


def interleaved(maker: CallMaker, *, active: int = ACTIVE_CALLS) -> Iterator[tuple[str, dict]]:
    """An endless stream of events of ``active`` calls in progress at once, interleaved at random."""
    calls = [maker.call() for _ in range(active)]
    cursors = [0] * active
    rng = maker.rng
    while True:
        i = rng.randrange(active)
        yield calls[i][cursors[i]]
        cursors[i] += 1
        if cursors[i] == len(calls[i]):
            calls[i], cursors[i] = maker.call(), 0


def form_request(path: str, payload: dict, *, keys: Keys, host: str, prefix: str = "/mango") -> bytes:
    """The whole HTTP/1.1 request the PBX would send, signed, ready to write to a socket."""
    text = _compact(payload)
    body = urlencode({"vpbx_api_key": keys.api_key, "sign": sign(keys.api_key, text, keys.api_salt),
                      "json": text}).encode("ascii")
    head = (f"POST {prefix}/{path} HTTP/1.1\r\nHost: {host}\r\n"
            f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode("ascii") + body


def requests(maker: CallMaker, count: int, *, keys: Keys, host: str) -> tuple[list[bytes], int]:
    """``count`` ready requests of interleaved calls, and how many calls they complete or touch."""
    stream = interleaved(maker)
    out = [form_request(path, payload, keys=keys, host=host) for path, payload in
           (next(stream) for _ in range(count))]
    return out, maker.made
