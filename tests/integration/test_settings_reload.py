# ruff: noqa: F811  (app_client, a fixture imported from tests.channels, is a parameter here)
"""A reloaded setting reaches every reader: ``lead_stale_days`` for calls as for inquiries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from config.settings import FLAT_NAMES, SETTING_NAMES, load_settings
from daemon.runtime.keys import RELOADER
from daemon.runtime.reload import RELOADABLE, RESTART_ONLY
from daemon.store.repository import Repository
from tests.channels import SOURCES, app_client, channel_env  # noqa: F401  (app_client: a fixture)
from tests.leadkit import MISSED, post_call
from tests.support.paths import REPO

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
CALLER = "79260000001"  # nobody knows this number
TG = {"X-Telegram-Bot-Api-Secret-Token": SOURCES["tg-bot"]["secret"]}


def _message(message_id: int, at: datetime) -> dict[str, Any]:
    sender = {"id": 500100200, "is_bot": False, "first_name": "Ольга"}
    return {"update_id": 900_000 + message_id, "message": {
        "message_id": message_id, "from": sender, "chat": {"id": 500100200, "type": "private"},
        "date": int(at.timestamp()), "text": f"сообщение {message_id}"}}


async def _message_lead(client: TestClient, pool: asyncpg.Pool, message_id: int, at: datetime) -> int:
    resp = await client.post("/inquiries/tg-bot", json=_message(message_id, at), headers=TG)
    assert resp.status == 200, await resp.text()
    lead_id: int = await pool.fetchval(
        "SELECT lead_id FROM communications WHERE source = 'tg-bot' ORDER BY id DESC LIMIT 1")
    return lead_id


async def _call_lead(client: TestClient, pool: asyncpg.Pool, name: str, at: datetime) -> int:
    entry_id = await post_call(client, MISSED, name=name, number=CALLER, at=at)
    lead_id: int = await pool.fetchval("SELECT lead_id FROM communications WHERE entry_id = $1", entry_id)
    return lead_id


@pytest.mark.parametrize("variable", ["CALLBRIDGE_LEAD_STALE_DAYS", "CALLBRIDGE_LEADS__STALE_DAYS"])
async def test_reloaded_lead_stale_days_reaches_calls_and_inquiries(
        app_client: TestClient, repo: Repository, db_url: str, tmp_path: Path, variable: str) -> None:
    """Started with 30 days, reloaded to 5: a call and a message 10 days after the last activity
    each open a new lead (with 30 both would have joined the old one)."""
    pool = repo.pool
    first_call = await _call_lead(app_client, pool, "r1", T0)
    first_message = await _message_lead(app_client, pool, 1, T0)
    reloader = app_client.app[RELOADER]
    result = await reloader.reload(lambda: load_settings(channel_env(db_url, tmp_path / "state", **{variable: "5"})))
    assert (result.ok, result.changed, result.needs_restart) == (True, ("lead_stale_days",), ())
    assert reloader.current.leads.stale_days == 5
    later_call = await _call_lead(app_client, pool, "r2", T0 + timedelta(days=10))
    later_message = await _message_lead(app_client, pool, 2, T0 + timedelta(days=10))
    assert later_call != first_call and later_message != first_message
    archived = await pool.fetch("SELECT id, closed_at FROM leads WHERE status = 'archived' ORDER BY id")
    assert [(r["id"], r["closed_at"]) for r in archived] == [
        (first_call, T0 + timedelta(days=5)), (first_message, T0 + timedelta(days=5))]


async def test_without_a_reload_the_same_gap_joins_the_lead(app_client: TestClient, repo: Repository) -> None:
    """The control: 10 days is within the start-up 30, so the call and the message join their leads."""
    pool = repo.pool
    first_call = await _call_lead(app_client, pool, "s1", T0)
    first_message = await _message_lead(app_client, pool, 1, T0)
    assert await _call_lead(app_client, pool, "s2", T0 + timedelta(days=10)) == first_call
    assert await _message_lead(app_client, pool, 2, T0 + timedelta(days=10)) == first_message


def test_which_settings_a_reload_applies() -> None:
    """Written out by hand (and in config/callbridge.example.toml): a new setting must be put on
    one side, and a reloadable one read at use (``Reloader.current``) or rebuilt by a hook."""
    assert set(RELOADABLE) == {
        "timezone", "pbx_request_timeout_s", "pbx_stats_poll_interval_s",
        "office_hours", "holidays", "administrator_extension", "line_rules", "route_rate_per_s", "ivr_hold_s",
        "report_day_end", "report_working_days", "report_lookback_days", "report_max_window_days",
        "report_email_from", "report_email_to",
        "smtp_host", "smtp_port", "smtp_security", "smtp_username", "smtp_password", "smtp_timeout_s",
        "inbox_retention_days", "inbox_prune_batch",
        "sources", "utm_sources", "conversation_idle_s", "agency_emails",
        "lead_stale_days", "lead_lost_reasons", "tag_regular_min_trips", "tag_regular_months", "tag_cold_months",
        "trip_statuses", "lost_client_trip_months", "lost_client_silence_months",
        "reply_poll_interval_s", "reply_send_timeout_s", "reply_give_up_after_h", "reply_concurrency",
        "reply_retry_base_s", "auto_reply_every_h", "templates",
        "sla_first_response_minutes", "sla_channels", "sla_escalate_after_minutes", "sla_notify_email",
        "assignment_mode", "assignment_cap",
        "funnel_stages", "funnel_paid_stage", "funnel_trip_stage", "campaign_refusal_reasons", "campaign_claim_days",
        "task_birthday_days_ahead", "task_after_trip_days", "task_next_season_days", "nightly_at",
        "nightly_in_daemon",
    }
    assert RESTART_ONLY <= set(SETTING_NAMES)


def test_the_example_file_names_every_old_key(tmp_path: Path) -> None:
    """Each grouped key in the example says the flat name it had, so a reader of an old file finds it."""
    text = (REPO / "config" / "callbridge.example.toml").read_text()
    named = {flat for flat, (group, key) in FLAT_NAMES.items() if f"was {flat}" in text or f"was [{flat}" in text or group in ("leads", "replies")}
    assert named == set(FLAT_NAMES)
