"""Deliveries of the five messenger channels, as their senders post them: whole HTTP requests,
built from the documented examples (tests/fixtures/channels) with fresh ids.

Each delivery is a new message (its own dedup key) from one of ``people`` persons per
channel, so messages join running conversations and new persons make contacts, as in
a day's traffic; ``repeat_share`` of them are sent twice (a sender's redelivery).

Each person has a name drawn from common Russian first and last names (so names repeat,
as in a real base) and a random mobile number (``_Person``). The examples' own name and
phone are not reused: 2,000 namesakes with numbers one digit apart are 2,000 duplicate
candidates of each other, and a phone written in every message makes one contact of a
whole channel; neither is a day's traffic. Each message is stamped with the time it is made
(the examples' own dates are of 2025: every inquiry would be overdue on arrival and escalated
at once by the inbox's sweep).
"""

from __future__ import annotations

import copy
import json
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
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

FIRST = ("Ольга", "Елена", "Наталья", "Татьяна", "Ирина", "Анна", "Мария", "Светлана", "Юлия", "Екатерина",
         "Александр", "Сергей", "Дмитрий", "Андрей", "Алексей", "Максим", "Иван", "Михаил", "Николай", "Павел")
LAST = ("Иванов", "Смирнов", "Кузнецов", "Попов", "Васильев", "Петров", "Соколов", "Михайлов", "Новиков",
        "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров", "Павлов", "Козлов",
        "Степанов", "Николаев", "Орлов", "Андреев", "Макаров", "Никитин", "Захаров", "Зайцев")


class _Person:
    """A person's name and mobile number, the same for every message of theirs (seeded by channel and index)."""

    def __init__(self, channel: int, person: int) -> None:
        rng = random.Random(channel * 1_000_003 + person)
        self.first = rng.choice(FIRST)
        last = rng.choice(LAST)
        self.last = last + "а" if self.first[-1] in "аяь" and self.first != "Никита" else last
        self.name = f"{self.first} {self.last}"
        self.digits = "79" + "".join(rng.choice("0123456789") for _ in range(9))  # 79XXXXXXXXX

    def written(self) -> str:
        """The number as a tourist types it: 8 9XX XXX-XX-XX."""
        d = self.digits
        return f"8 {d[1:4]} {d[4:7]}-{d[7:9]}-{d[9:]}"


def _max(n: int, person: int) -> tuple[str, dict[str, str], dict[str, Any]]:
    body = copy.deepcopy(example("max-message-created")["request"]["body"])
    body["message"]["body"]["mid"] = f"mid.bench.{n}"
    body["message"]["sender"]["user_id"] = 500_000_000 + person
    body["timestamp"] = body["message"]["timestamp"] = int(time.time() * 1000)
    who = _Person(0, person)
    body["message"]["sender"] |= {"first_name": who.first, "last_name": who.last, "name": who.name}
    body["message"]["recipient"]["chat_id"] = -(700_000_000 + person)
    return "/inquiries/max-bot", {"X-Max-Bot-Api-Secret": SOURCES["max-bot"]["secret"]}, body


def _wazzup(n: int, person: int) -> tuple[str, dict[str, str], dict[str, Any]]:
    body = copy.deepcopy(example("wazzup-whatsapp-text")["request"]["body"])
    message = body["messages"][0]
    message["messageId"] = f"bench-{n}"
    who = _Person(1, person)
    message["chatId"] = who.digits
    message["dateTime"] = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    message["contact"] = {"name": who.name}
    return f"/inquiries/wazzup-wa?token={SOURCES['wazzup-wa']['secret']}", {}, body


def _greenapi(n: int, person: int) -> tuple[str, dict[str, str], dict[str, Any]]:
    body = copy.deepcopy(example("greenapi-incoming-text")["request"]["body"])
    body["idMessage"] = f"BENCH{n:016d}"
    body["timestamp"] = int(time.time())
    who = _Person(2, person)
    chat = f"{who.digits}@c.us"
    body["senderData"] |= {"chatId": chat, "sender": chat, "chatName": who.first, "senderName": who.first}
    return "/inquiries/greenapi-wa", {"Authorization": f"Bearer {SOURCES['greenapi-wa']['secret']}"}, body


def _avito(n: int, person: int) -> tuple[str, dict[str, str], dict[str, Any]]:
    body = copy.deepcopy(example("avito-message")["request"]["body"])
    value = body["payload"]["value"]
    body["timestamp"] = int(time.time())
    value |= {"created": int(time.time()), "id": f"bench{n}", "author_id": 600_000_000 + person, "chat_id": f"u2i-bench-{person}",
              "content": {"text": f"Здравствуйте, тур ещё актуален? Мой номер {_Person(3, person).written()}"}}
    return f"/inquiries/avito?token={SOURCES['avito']['secret']}", {}, body


def _telegram_business(n: int, person: int) -> tuple[str, dict[str, str], dict[str, Any]]:
    body = copy.deepcopy(example("telegram-business-message")["request"]["body"])
    message = body["business_message"]
    message["message_id"] = n
    message["date"] = int(time.time())
    message["from"]["id"] = message["chat"]["id"] = 800_000_000 + person
    who = _Person(4, person)
    for party in (message["from"], message["chat"]):
        party |= {"first_name": who.first, "last_name": who.last}
    message["text"] = f"Добрый вечер! Есть что-то в Грузию на майские? Мой номер {who.written()}"
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
