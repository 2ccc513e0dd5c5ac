"""Support for the messenger channel tests: their sources, and replaying an example over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from config.settings import Settings
from tests.channels import SOURCES, channel_settings, example

# The sources the messenger examples' paths name, with the secrets their headers carry.
MESSENGER_SOURCES: dict[str, dict[str, Any]] = {
    "max-bot": {"kind": "max", "secret": "cbMaxS3cret-2025", "ad_source": "MAX"},
    "wazzup-wa": {"kind": "wazzup", "secret": "wz-url-secret-7", "ad_source": "WhatsApp"},
    "greenapi-wa": {"kind": "greenapi", "secret": "ga-webhook-token-8", "ad_source": "WhatsApp"},
    "avito": {"kind": "avito", "secret": "avito-url-secret-9", "ad_source": "Авито",
              "items": {"4123456789": "Авито: Сочи"}},
}
MESSENGER_UTM_SOURCES = {"vk_egypt_oct": "VK Реклама"}
# Every inbound messenger example, in its story's order.
MESSENGER_EXAMPLES = [
    "max-bot-started", "max-message-created", "max-contact-shared", "max-bad-secret",
    "wazzup-test-probe", "wazzup-whatsapp-text", "wazzup-echo-and-status", "wazzup-telegram-with-phone",
    "wazzup-instagram-text",
    "greenapi-incoming-text", "greenapi-incoming-contact", "greenapi-incoming-image-caption",
    "greenapi-outgoing-api-message", "greenapi-state-changed",
    "avito-message", "avito-own-message", "avito-system-message",
    "telegram-business-connection", "telegram-business-message", "telegram-business-message-own",
]


def messenger_settings(db_url: str, state_dir: Path) -> Settings:
    return channel_settings(db_url, state_dir,
                            CALLBRIDGE_SOURCES=json.dumps({**SOURCES, **MESSENGER_SOURCES}),
                            CALLBRIDGE_UTM_SOURCES=json.dumps(MESSENGER_UTM_SOURCES))


def source_of(ex: dict[str, Any]) -> str:
    return str(ex["request"]["path_hint"].split("?")[0].rsplit("/", 1)[1])


def _secret(source: str) -> str:
    return str({**SOURCES, **MESSENGER_SOURCES}[source]["secret"])


def _fill(value: str, source: str) -> str:
    secret = _secret(source)
    return value.replace("{secret}", secret).replace("{webhook_url_token}", secret)


def replay_headers(ex: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The URL and headers the example's sender posts with, its secret filled in."""
    source = source_of(ex)
    request = ex["request"]
    return _fill(request["path_hint"], source), {k: _fill(v, source) for k, v in request["headers"].items()}


async def replay_messenger(client: TestClient, name: str) -> tuple[int, bytes]:
    """POST the example as its sender would; (status, body)."""
    ex = example(name)
    url, headers = replay_headers(ex)
    data = json.dumps(ex["request"]["body"], ensure_ascii=False).encode("utf-8")
    resp = await client.post(url, data=data, headers=headers)
    return resp.status, await resp.read()
