"""Support for the channel tests: configured sources, and replaying an example over HTTP."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from config.settings import Settings, load_settings
from daemon.runtime.app import build_app
from tests.conftest import API_KEY, API_SALT, API_TOKEN
from tests.support.paths import CHANNEL_FIXTURES

# The contacts-merge work (daemon/contacts/merge.py) absorbs a messenger-only contact
# into the one whose phone its conversation reveals; without it the pair is a hint.
EXAMPLES_DIR = CHANNEL_FIXTURES
# The sources the examples' paths name, with the secrets their headers carry.
SOURCES: dict[str, dict[str, Any]] = {
    "tilda-site": {"kind": "tilda", "secret": "tilda-secret-1"},
    "site-form": {"kind": "form", "secret": "form-secret-2", "ad_source": "Сайт"},
    "tour-module": {"kind": "form", "secret": "tour-secret-3"},
    "jivo-chat": {"kind": "jivo", "secret": "jivo-secret-4", "ad_source": "Jivo"},
    "tg-bot": {"kind": "telegram", "secret": "cb_tg_9f3a1c7e5b2d4a60", "ad_source": "Telegram"},
    "vk-group": {"kind": "vk", "secret": "vkS3cretKey2025", "confirmation": "5a7c9e1b", "ad_source": "ВКонтакте"},
}
UTM_SOURCES = {"yandex": "Яндекс.Директ", "google": "Google Ads", "vk": "VK Реклама",
               "Подбор тура — лето": "VK Реклама"}  # a VK lead form, by its name
# Examples in the order of their story: Анна's form, then her Telegram chat, then the rest.
ORDER = [
    "tilda_test_request", "tilda_form_with_cookies", "telegram_start_deeplink", "telegram_text_message",
    "telegram_contact_shared", "api_inquiry_with_referrer", "tilda_form_custom_names_hidden_utm",
    "form_json_tour_module", "form_urlencoded_aliases_utm_in_url", "jivo_chat_accepted", "jivo_chat_finished",
    "jivo_offline_message", "jivo_offline_message_without_chat_id", "jivo_client_updated", "vk_confirmation",
    "vk_message_new_phone_in_text", "vk_message_new_no_phone", "vk_message_new_bad_secret", "vk_lead_forms_new",
    "vk_lead_forms_new_organic",
]


def channel_env(db_url: str, state_dir: Path, **extra: str) -> dict[str, str]:
    return {
        "CALLBRIDGE_DATABASE_URL": db_url,
        "CALLBRIDGE_MANGO_API_KEY": API_KEY,
        "CALLBRIDGE_MANGO_API_SALT": API_SALT,
        "CALLBRIDGE_API_TOKEN": API_TOKEN,
        "CALLBRIDGE_STATE_DIR": str(state_dir),
        "CALLBRIDGE_MANGO_API_URL": "http://127.0.0.1:9/vpbx/",
        "CALLBRIDGE_SOURCES": json.dumps(SOURCES),
        "CALLBRIDGE_UTM_SOURCES": json.dumps(UTM_SOURCES),
        **extra,
    }


def channel_settings(db_url: str, state_dir: Path, **extra: str) -> Settings:
    return load_settings(channel_env(db_url, state_dir, **extra))


@pytest.fixture
async def app_client(db_url: str, tmp_path: Path) -> AsyncIterator[TestClient]:
    """The daemon with every example source configured (SOURCES), on this test's own database.

    A fixture of the inquiry tests: they import it (``from tests.channels import app_client``).
    """
    app = build_app(channel_settings(db_url, tmp_path / "state"), database_url=db_url, apply_migrations=False)
    async with TestClient(TestServer(app)) as client:
        yield client


def example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES_DIR / f"{name}.json").read_text(encoding="utf-8"))


def source_of(ex: dict[str, Any]) -> str:
    """The source an example posts to (``/inquiries/<source>``), or the API body's."""
    path = ex["request"]["path_hint"].split("?")[0]
    if path == "/api/inquiries":
        return ex["request"]["body"]["source"]
    return path.rsplit("/", 1)[1]


def _fill(text: str, source: str) -> str:
    secret = SOURCES.get(source, {}).get("secret", "")
    return text.replace("{secret}", secret).replace("{api_token}", API_TOKEN)


async def replay(client: TestClient, ex: dict[str, Any]) -> tuple[int, bytes]:
    """POST the example as its sender would; (status, body)."""
    request = ex["request"]
    source = source_of(ex)
    headers = {k: _fill(v, source) for k, v in request["headers"].items()}
    body = request["body"]
    data = body.encode("utf-8") if isinstance(body, str) else json.dumps(body, ensure_ascii=False).encode("utf-8")
    resp = await client.post(_fill(request["path_hint"], source), data=data, headers=headers)
    return resp.status, await resp.read()


async def inbox_count(conn: asyncpg.Pool | asyncpg.Connection) -> int:
    return await conn.fetchval("SELECT count(*) FROM inbox")


async def stored_inquiry(pool: asyncpg.Pool, source: str, external_id: str) -> dict[str, Any] | None:
    """The Inquiry the adapter made, as the inbox keeps it (JSON)."""
    event = await pool.fetchval("SELECT event::text FROM inbox WHERE dedup_key = $1",
                                f"inquiry:{source}:{external_id}")
    return json.loads(event)["inquiry"] if event else None


async def communication_of(pool: asyncpg.Pool, inquiry: dict[str, Any]) -> asyncpg.Record | None:
    """The communication an inquiry went into: its own, or its conversation's."""
    return await pool.fetchrow(
        """SELECT * FROM communications WHERE source = $1
           AND (external_id = $2 OR ($3::text IS NOT NULL AND conversation_key = $3))
           ORDER BY id LIMIT 1""",
        inquiry["source"], inquiry["external_id"], inquiry["conversation_id"])


async def identifiers_of(pool: asyncpg.Pool, contact_id: int) -> set[tuple[str, str]]:
    rows = await pool.fetch("SELECT kind, value FROM contact_identifiers WHERE contact_id = $1", contact_id)
    return {(r["kind"], r["value"]) for r in rows}


async def final_state(pool: asyncpg.Pool) -> dict[str, Any]:
    """What any delivery order must end with: who is who, open leads, communications per source."""
    contacts = await pool.fetch(
        """SELECT c.id, array_agg(i.kind || ':' || i.value ORDER BY i.kind, i.value) AS ids,
                  (SELECT count(*) FROM leads l WHERE l.contact_id = c.id AND l.status = 'open') AS open_leads
           FROM contacts c JOIN contact_identifiers i ON i.contact_id = c.id
           WHERE c.merged_into IS NULL GROUP BY c.id""")
    per_source = await pool.fetch(
        "SELECT source, count(*) AS n, sum(message_count) AS messages FROM communications"
        " WHERE source IS NOT NULL GROUP BY source")
    return {
        "contacts": sorted((tuple(r["ids"]), r["open_leads"]) for r in contacts),
        "communications": sorted((r["source"], r["n"], r["messages"]) for r in per_source),
        "hints": await pool.fetchval("SELECT count(*) FROM contact_duplicate_hints"),
        "referrals": await pool.fetchval("SELECT count(*) FROM contact_referrals"),
    }
