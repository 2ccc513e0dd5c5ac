"""Deliveries of the five messenger channels, as their senders post them: whole HTTP requests,
built from the documented examples (tests/fixtures/channels) with fresh ids.

Each delivery is a new message (its own dedup key) from one of ``people`` persons per
channel, so messages join running conversations and new persons make contacts, as in
a day's traffic; ``repeat_share`` of them are sent twice (a sender's redelivery).
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from typing import Any

from tests.channels import example

SOURCES: dict[str, dict[str, Any]] = {
    "max-bot": {"kind": "max", "secret": "bench-max-secret", "ad_source": "MAX"},
    "wazzup-wa": {"kind": "wazzup", "secret": "bench-wazzup-secret", "ad_source": "WhatsApp"},
    "greenapi-wa": {"kind": "greenapi", "secret": "bench-greenapi-secret", "ad_source": "WhatsApp"},
    "avito": {"kind": "avito", "secret": "bench-avito-secret", "ad_source": "Авито"},
    "tg-bot": {"kind": "telegram", "secret": "bench-telegram-secret", "ad_source": "Telegram"},
}
Maker = Callable[[int, int], tuple[str, dict[str, str], dict[str, Any]]]  # (n, person) -> (path, headers, body)


def _max(n: int, person: int) -> tuple[str, dict[str, str], dict[str, Any]]:
    body = copy.deepcopy(example("max-message-created")["request"]["body"])
    body["message"]["body"]["mid"] = f"mid.bench.{n}"
    body["message"]["sender"]["user_id"] = 500_000_000 + person
    body["message"]["recipient"]["chat_id"] = -(700_000_000 + person)
    return "/inquiries/max-bot", {"X-Max-Bot-Api-Secret": SOURCES["max-bot"]["secret"]}, body


def _wazzup(n: int, person: int) -> tuple[str, dict[str, str], dict[str, Any]]:
    body = copy.deepcopy(example("wazzup-whatsapp-text")["request"]["body"])
    message = body["messages"][0]
    message["messageId"] = f"bench-{n}"
    message["chatId"] = f"7926{person:07d}"
    return f"/inquiries/wazzup-wa?token={SOURCES['wazzup-wa']['secret']}", {}, body


def _greenapi(n: int, person: int) -> tuple[str, dict[str, str], dict[str, Any]]:
    body = copy.deepcopy(example("greenapi-incoming-text")["request"]["body"])
    body["idMessage"] = f"BENCH{n:016d}"
    chat = f"7903{person:07d}@c.us"
    body["senderData"] |= {"chatId": chat, "sender": chat}
    return "/inquiries/greenapi-wa", {"Authorization": f"Bearer {SOURCES['greenapi-wa']['secret']}"}, body


def _avito(n: int, person: int) -> tuple[str, dict[str, str], dict[str, Any]]:
    body = copy.deepcopy(example("avito-message")["request"]["body"])
    value = body["payload"]["value"]
    value |= {"id": f"bench{n}", "author_id": 600_000_000 + person, "chat_id": f"u2i-bench-{person}",
              "content": {"text": f"Здравствуйте, тур ещё актуален? +7 977 {person:07d}"}}
    return f"/inquiries/avito?token={SOURCES['avito']['secret']}", {}, body


def _telegram_business(n: int, person: int) -> tuple[str, dict[str, str], dict[str, Any]]:
    body = copy.deepcopy(example("telegram-business-message")["request"]["body"])
    message = body["business_message"]
    message["message_id"] = n
    message["from"]["id"] = message["chat"]["id"] = 800_000_000 + person
    body["update_id"] = n
    return "/inquiries/tg-bot", {"X-Telegram-Bot-Api-Secret-Token": SOURCES["tg-bot"]["secret"]}, body


MAKERS: tuple[Maker, ...] = (_max, _wazzup, _greenapi, _avito, _telegram_business)


def http_request(path: str, headers: dict[str, str], body: dict[str, Any], *, host: str) -> bytes:
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n{head}"
            f"Content-Length: {len(data)}\r\n\r\n").encode("latin-1") + data


def requests(count: int, *, host: str, people: int, repeat_share: float, seed: int = 22) -> list[bytes]:
    """``count`` requests mixed over the channels; a repeat follows its original within a few dozen.
    Message ids start at ``seed`` × 10,000,000, so two phases never share one."""
    rng = random.Random(seed)
    out: list[bytes] = []
    n = seed * 10_000_000
    while len(out) < count:
        maker = MAKERS[n % len(MAKERS)]
        out.append(http_request(*maker(n, rng.randrange(people)), host=host))
        if rng.random() < repeat_share and len(out) > 1:
            out.insert(rng.randrange(max(0, len(out) - 40), len(out)), out[-1])
        n += 1
    return out[:count]
