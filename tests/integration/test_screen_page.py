"""The page is served at /ui/, and the notification trigger is part of the schema."""

from __future__ import annotations

import secrets

import asyncpg
from aiohttp.test_utils import TestClient

from daemon.store import migrate
from tests.conftest import RUN_ID, with_database

TRIGGERS = """
    SELECT t.tgname, c.relname, pg_get_triggerdef(t.oid) AS def,
           pg_get_functiondef(t.tgfoid) AS function
    FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
    WHERE NOT t.tgisinternal ORDER BY 1"""


async def test_page_and_its_files_are_served_without_a_token(client: TestClient) -> None:
    page = await client.get("/ui/")
    assert page.status == 200 and page.content_type == "text/html"
    html = await page.text()
    assert "Экран менеджера" in html and 'lang="ru"' in html
    for name, kind in (("screen.js", "javascript"), ("screen.css", "text/css"), ("favicon.svg", "image/svg+xml")):
        assert f'src="{name}"' in html or f'href="{name}"' in html
        resp = await client.get(f"/ui/{name}")
        assert resp.status == 200 and kind in resp.content_type
    redirect = await client.get("/ui", allow_redirects=False)
    assert (redirect.status, redirect.headers["Location"]) == (308, "/ui/")
    assert (await client.get("/ui/../app.py")).status in (403, 404)
    # The icon a browser asks for by itself, page or not: no 404 in the console, no token needed.
    icon = await client.get("/favicon.ico")
    assert icon.status == 200 and icon.content_type == "image/svg+xml"
    assert (await icon.read()).startswith(b"<svg")


async def test_the_notify_trigger_is_in_schema_sql_too(db_url: str, server_url: str) -> None:
    """tests/integration/test_migrations.py compares tables and indexes; triggers are compared here."""
    name = f"{RUN_ID}_trig_{secrets.token_hex(3)}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    try:
        from_schema = await asyncpg.connect(with_database(server_url, name))
        migrated = await asyncpg.connect(db_url)
        try:
            await from_schema.execute(migrate.schema_sql())
            expected = [tuple(r) for r in await migrated.fetch(TRIGGERS)]
            assert [r[0] for r in expected if "notify" in r[0]] == [
                "communications_notify_call", "communications_notify_call_change", "inbox_items_notify",
                "inbox_notify_call_leg"]
            assert [tuple(r) for r in await from_schema.fetch(TRIGGERS)] == expected
        finally:
            await from_schema.close()
            await migrated.close()
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()
