# ruff: noqa: F811  (app_client, a fixture imported from tests.channels, is a parameter here)
"""Inquiries on the manager's screen, in /api/communications and in the morning report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient

from daemon.report import missed_report
from daemon.report.render import render_text, report_json
from daemon.report.window import Window
from daemon.store.repository import Repository
from tests.channels import SOURCES, app_client, channel_env, example, replay  # noqa: F401  (app_client: a fixture)
from tests.conftest import auth
from tests.screenkit import moved, next_card, nothing_more, open_screen, post_steps


async def test_known_persons_form_pops_up_for_the_responsible_manager(
        app_client: TestClient, office: Repository) -> None:
    """Анна (responsible: 105) fills in the Tilda form: 105 gets the inquiry card, 106 nothing."""
    ws105 = await open_screen(app_client, "105", auth())
    ws106 = await open_screen(app_client, "106", auth())
    status, _ = await replay(app_client, example("tilda_form_with_cookies"))
    assert status == 200
    card = await next_card(ws105)
    assert card["phase"] == "inquiry" and card["channel"] == "web_form" and card["source"] == "tilda-site"
    assert card["contact"]["name"] == "Кузнецова Анна Сергеевна"
    assert "Турция, 2 взрослых" in card["text"]
    assert card["open_lead"]["id"] is not None
    await nothing_more(ws106)
    await ws105.close()
    await ws106.close()


async def test_new_persons_chat_pops_up_for_everyone(app_client: TestClient, office: Repository) -> None:
    """Nobody is responsible for a new person: every signed-in screen gets the card."""
    screens = [await open_screen(app_client, ext, auth()) for ext in ("105", "106")]
    status, _ = await replay(app_client, example("vk_message_new_no_phone"))
    assert status == 200
    for ws in screens:
        card = await next_card(ws)
        assert card["phase"] == "inquiry" and card["channel"] == "vk"
        assert "Турция на майские" in card["text"]
        await ws.close()


async def test_communications_api_shows_channel_source_text_and_utm(
        app_client: TestClient, office: Repository) -> None:
    """The text is cut at 4,000 characters in the list; the database keeps it whole."""
    long_text = "Я" * 5000
    resp = await app_client.post("/api/inquiries", headers=auth(), json={
        "source": "partner-site", "external_id": "c-1", "phone": "+79990001122", "text": long_text,
        "page_url": "https://x.example/?a=1", "utm": {"source": "google", "medium": "cpc"}})
    made = await resp.json()
    listed = await app_client.get(f"/api/communications?contact_id={made['contact_id']}", headers=auth())
    [item] = await listed.json()
    assert item["channel"] == "api" and item["source"] == "partner-site" and item["status"] == "received"
    assert item["text"] == long_text[:4000]
    assert item["utm"] == {"source": "google", "medium": "cpc"}
    assert item["page_url"] == "https://x.example/?a=1"
    assert await office.pool.fetchval("SELECT length(text) FROM communications WHERE id = $1",
                                      made["communication_id"]) == 5000


async def test_morning_report_lists_inquiries_nobody_answered(app_client: TestClient, office: Repository) -> None:
    """Of a form, a called-back API inquiry, a replied VK chat and an unreachable one, only the
    form is listed; the unreachable one is counted."""
    since = datetime.now(UTC) - timedelta(minutes=1)
    await replay(app_client, example("tilda_form_custom_names_hidden_utm"))
    resp = await app_client.post("/api/inquiries", headers=auth(), json={
        "source": "partner-site", "external_id": "called-back", "phone": "+79031112233", "text": "Перезвоните"})
    assert resp.status == 201
    await post_steps(app_client, moved("outgoing_callback.json", suffix="-cb", ago_s=-30))
    secret = SOURCES["vk-group"]["secret"]
    for kind, event_id, from_id in (("message_new", "r1", 77), ("message_reply", "r2", -5)):
        resp = await app_client.post("/inquiries/vk-group", json={
            "type": kind, "group_id": 9, "event_id": event_id, "secret": secret,
            "object": {"message": {"id": 1, "peer_id": 77, "from_id": from_id, "text": "Привет",
                                   "date": int(datetime.now(UTC).timestamp())}}})
        assert resp.status == 200
    resp = await app_client.post("/api/inquiries", headers=auth(), json={
        "source": "partner-site", "external_id": "nobody", "text": "без контактов"})
    assert (await resp.json())["unreachable"]
    report = await missed_report(office, Window(since, datetime.now(UTC) + timedelta(minutes=5)),
                                 tz=ZoneInfo("Europe/Moscow"))
    rows = report.inquiries.rows
    assert [(r.source, r.phone) for r in rows] == [("tilda-site", "+79035551234")]
    assert report.inquiries.unreachable == 1
    text = render_text(report)
    assert "Обращения без ответа: 1 (и ещё 1 без способа ответить)" in text
    assert "Египет на двоих" in text
    assert report_json(report)["unanswered_inquiries"]["rows"][0]["source"] == "tilda-site"
