"""The live caller card over /ws: who gets which card, in which phase, and what it says."""

from __future__ import annotations

import aiohttp
from aiohttp.test_utils import TestClient, TestServer

from config.settings import Settings
from daemon.runtime.app import build_app
from daemon.runtime.keys import RELOADER
from daemon.store.repository import Repository
from tests.conftest import API_TOKEN, auth
from tests.screenkit import (
    in_order,
    moved,
    next_card,
    next_message,
    nothing_more,
    open_screen,
    phases_until,
    post_steps,
    steps,
)


async def test_card_of_a_known_caller_pops_up_then_follows_the_call(client: TestClient, office: Repository) -> None:
    """The card comes when the leg rings at 105, then answered, then ended; it says who calls.

    Each step waits for the card of the phase it means (of this call): under load
    one change may be pushed twice, and the pusher reads the state when it runs.
    """
    ws = await open_screen(client, "105", auth())
    call = steps("answered_incoming.json")
    entry_id = call[0][1]["entry_id"]
    await post_steps(client, call[:2])  # still in the IVR: nobody's phone rings
    await nothing_more(ws)
    await post_steps(client, call[2:3])
    _, ringing = await phases_until(ws, "ringing", entry_id=entry_id)
    assert ringing["contact"]["name"] == "Кузнецова Анна Сергеевна"
    assert ringing["contact"]["is_new"] is False
    assert ringing["contact"]["tags"] == ["постоянный турист"]
    assert ringing["phone"] == "+7 916 123-45-67"
    assert ringing["phone_e164"] == "+79161234567"
    assert ringing["responsible"] == {"extension": "105", "name": "Иванова Мария"}
    assert ringing["open_lead"]["id"] is not None
    assert ringing["ad_source"] == "Яндекс.Директ"
    assert ringing["line"] == "+7 495 123-45-67"
    assert ringing["history"] == []
    assert ringing["answered_by"] is None
    await post_steps(client, call[3:4])
    _, answered = await phases_until(ws, "answered", entry_id=entry_id)
    assert answered["answered_by"] == {"extension": "105", "name": "Иванова Мария"}
    await post_steps(client, call[4:])
    phases, ended = await phases_until(ws, "ended", entry_id=entry_id)
    assert in_order(phases, ["answered", "ended"])
    assert ended["talk_seconds"] == 185
    assert ended["communication_id"] == ringing["communication_id"]
    await ws.close()


async def test_a_call_for_105_is_not_shown_to_106(client: TestClient, office: Repository) -> None:
    ws105 = await open_screen(client, "105", auth())
    ws106 = await open_screen(client, "106", auth())
    await post_steps(client, steps("answered_incoming.json"))
    await phases_until(ws105, "ended")
    await nothing_more(ws106)
    await ws105.close()
    await ws106.close()


async def test_group_call_nobody_answers_is_missed_on_both_screens(client: TestClient, office: Repository) -> None:
    screens = [await open_screen(client, ext, auth()) for ext in ("105", "106")]
    await post_steps(client, steps("missed_incoming.json"))
    for ws in screens:
        phases, card = await phases_until(ws, "missed")
        assert in_order(phases, ["ringing", "missed"])
        assert card["contact"]["name"] == "Орлов Дмитрий"
        assert card["responsible"]["extension"] == "106"
        while card["status"] != "missed":  # this leg ended; the call as a whole ends a moment later
            card = await next_card(ws)
            assert card["phase"] == "missed"
        await ws.close()


async def test_group_call_taken_by_a_colleague(client: TestClient, office: Repository) -> None:
    """105 and 106 ring; 106 answers: 105's card says a colleague took it."""
    ws105 = await open_screen(client, "105", auth())
    ws106 = await open_screen(client, "106", auth())
    await post_steps(client, steps("group_answered_by_second.json"))
    phases, taken = await phases_until(ws105, "taken")
    assert in_order(phases, ["ringing", "taken"])
    assert taken["answered_by"]["extension"] == "106"
    phases, _ = await phases_until(ws106, "ended")
    assert in_order(phases, ["ringing", "answered", "ended"])
    await ws105.close()
    await ws106.close()


async def test_blind_transfer_rings_the_second_manager(client: TestClient, office: Repository) -> None:
    ws105 = await open_screen(client, "105", auth())
    ws106 = await open_screen(client, "106", auth())
    call = steps("transfer_blind.json")
    await post_steps(client, call[:5])  # 105 talks; the transfer rings 106
    assert in_order((await phases_until(ws105, "answered"))[0], ["ringing", "answered"])
    assert (await next_card(ws106))["phase"] == "ringing"
    await post_steps(client, call[5:])
    assert in_order((await phases_until(ws105, "ended"))[0], ["answered", "ended"])
    assert in_order((await phases_until(ws106, "ended"))[0], ["ringing", "answered", "ended"])
    await ws105.close()
    await ws106.close()


async def test_internal_call_shows_no_card(client: TestClient, office: Repository) -> None:
    ws = await open_screen(client, "106", auth())
    await post_steps(client, steps("internal_call.json"))
    await post_steps(client, steps("answered_incoming.json"))  # and a call that rings at 105 only
    await nothing_more(ws, wait_s=0.5)
    await ws.close()


async def test_new_caller_card_and_naming_the_caller(client: TestClient, office: Repository) -> None:
    ws = await open_screen(client, "101", auth())
    await post_steps(client, steps("unknown_caller.json"))
    _, card = await phases_until(ws, "ended")
    assert card["contact"]["name"] is None and card["contact"]["is_new"] is True
    assert card["ad_source"] == "Avito"
    assert card["phone"] == "+7 926 123-45-00"
    resp = await client.put(f"/api/contacts/{card['contact']['id']}/name", json={"name": "  Сидоров Пётр "},
                            headers=auth())
    assert resp.status == 200
    assert await resp.json() == {"id": card["contact"]["id"], "name": "Сидоров Пётр"}
    lookup = await client.get("/api/contacts/lookup", params={"phone": "89261234500"}, headers=auth())
    assert (await lookup.json())["name"] == "Сидоров Пётр"
    await ws.close()


async def test_history_lists_the_last_five_calls_with_their_notes(client: TestClient, office: Repository) -> None:
    """Earlier calls of the contact, newest first, at most five, without the ringing one."""
    for n in range(6):
        await post_steps(client, moved("transfer_blind.json", suffix=f"-h{n}", ago_s=86400 * (7 - n)))
    earlier = await client.get("/api/communications", params={"phone": "+79161234567"}, headers=auth())
    newest_id = (await earlier.json())[0]["id"]
    resp = await client.put(f"/api/communications/{newest_id}/note",
                            json={"note": "Хочет в Турцию в мае, двое взрослых"}, headers=auth())
    assert resp.status == 200
    ws = await open_screen(client, "105", auth())
    call = moved("answered_incoming.json", suffix="-now")
    await post_steps(client, call)
    _, card = await phases_until(ws, "ended", entry_id=call[0][1]["entry_id"])
    history = card["history"]
    assert len(history) == 5
    assert history[0]["id"] == newest_id, (card["entry_id"], history)
    assert history[0]["note"] == "Хочет в Турцию в мае, двое взрослых"
    assert history[0]["manager"] == {"extension": "105", "name": "Иванова Мария"}
    assert [h["started_at"] for h in history] == sorted((h["started_at"] for h in history), reverse=True)
    assert card["communication_id"] not in [h["id"] for h in history]
    await ws.close()


async def test_saving_a_note_updates_the_open_card(client: TestClient, office: Repository) -> None:
    ws = await open_screen(client, "105", auth())
    await post_steps(client, steps("answered_incoming.json"))
    _, card = await phases_until(ws, "ended")
    assert card["note"] is None
    resp = await client.put(f"/api/communications/{card['communication_id']}/note",
                            json={"note": "Перезвонить после 18:00"}, headers=auth())
    assert resp.status == 200
    # Cards of the same call may still be on their way (the recording arrives after
    # the summary); the note must reach the screen in one of the next few.
    for _ in range(5):
        updated = await next_card(ws)
        if updated["note"] is not None:
            break
    assert (updated["phase"], updated["note"]) == ("ended", "Перезвонить после 18:00")
    await ws.close()


async def test_a_screen_opened_during_a_call_gets_its_card(client: TestClient, office: Repository) -> None:
    call = moved("answered_incoming.json", suffix="-live", ago_s=5)
    await post_steps(client, call[:3])
    ws = await open_screen(client, "105", auth())
    card = await next_card(ws)
    assert (card["phase"], card["contact"]["name"]) == ("ringing", "Кузнецова Анна Сергеевна")
    assert card["entry_id"] == call[0][1]["entry_id"]
    await ws.close()


async def test_token_in_the_first_message(client: TestClient, office: Repository) -> None:
    """What a browser does: it cannot set Authorization on a WebSocket."""
    ws = await client.ws_connect("/ws?extension=105")
    await ws.send_json({"type": "auth", "token": API_TOKEN})
    hello = await next_message(ws)
    assert hello == {"type": "hello", "extension": "105", "live": True, "timezone": "Europe/Moscow",
                     "manager": {"name": "Иванова Мария", "active": True}}
    await post_steps(client, steps("answered_incoming.json")[:3])
    assert (await next_card(ws))["phase"] == "ringing"
    await ws.close()


async def test_wrong_token_in_the_first_message_closes_with_4401(client: TestClient) -> None:
    ws = await client.ws_connect("/ws?extension=105")
    await ws.send_json({"type": "auth", "token": "wrong"})
    msg = await ws.receive(timeout=5)
    assert msg.type == aiohttp.WSMsgType.CLOSE
    assert ws.close_code == 4401


async def test_a_first_message_that_is_not_auth_closes_with_4401(client: TestClient) -> None:
    ws = await client.ws_connect("/ws?extension=105")
    await ws.send_str("hello")
    msg = await ws.receive(timeout=5)
    assert msg.type == aiohttp.WSMsgType.CLOSE and ws.close_code == 4401


async def test_wrong_bearer_header_is_refused_before_the_upgrade(client: TestClient) -> None:
    resp = await client.get("/ws?extension=105", headers={"Authorization": "Bearer nope"})
    assert resp.status == 401


async def test_extension_is_required(client: TestClient) -> None:
    for query in ("", "?extension=", "?extension=10%205", "?extension=" + "1" * 40):
        resp = await client.get("/ws" + query, headers=auth())
        assert resp.status == 400, query
        assert "extension" in (await resp.json())["error"]


async def test_listener_reconnects_after_its_connection_is_killed(client: TestClient, office: Repository,
                                                                  db_url: str) -> None:
    """The screen is told that live updates stopped and resumed; cards flow again."""
    ws = await open_screen(client, "105", auth())
    killed = await office.pool.fetchval(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE application_name = 'callbridge-screen-listener' AND datname = current_database()")
    assert killed == 1
    assert await next_message(ws) == {"type": "status", "live": False}
    assert await next_message(ws) == {"type": "status", "live": True}
    await post_steps(client, steps("answered_incoming.json")[:3])
    assert (await next_card(ws))["phase"] == "ringing"
    await ws.close()


async def _notify_triggers(repo: Repository, action: str) -> None:
    """Every trigger that NOTIFYs the screens (migration 0009: new rows, visible changes, legs)."""
    for table, trigger in (("communications", "communications_notify_call"),
                           ("communications", "communications_notify_call_change"),
                           ("inbox", "inbox_notify_call_leg")):
        await repo.pool.execute(f"ALTER TABLE {table} {action} TRIGGER {trigger}")


async def test_a_call_not_heard_while_the_listener_was_away_shows_after_it_is_back(
        client: TestClient, office: Repository) -> None:
    """Notifications sent while the LISTEN connection is down are lost: a reconnect looks again."""
    ws = await open_screen(client, "105", auth())
    # A gap: the call rings at 105 but no notification reaches any listener.
    await _notify_triggers(office, "DISABLE")
    await post_steps(client, moved("answered_incoming.json", suffix="-gap", ago_s=3)[:3])
    await _notify_triggers(office, "ENABLE")
    await nothing_more(ws)
    await office.pool.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE application_name = 'callbridge-screen-listener' AND datname = current_database()")
    card = await next_card(ws)
    assert (card["phase"], card["contact"]["name"]) == ("ringing", "Кузнецова Анна Сергеевна")
    await ws.close()


async def test_shutdown_closes_screens_with_going_away(settings: Settings, office: Repository) -> None:
    """The page then reconnects (to this daemon when it is back, or to another)."""
    app = build_app(settings, database_url=settings.database.url, apply_migrations=False)
    async with TestClient(TestServer(app)) as own_client:
        ws = await open_screen(own_client, "105", auth())
        await own_client.server.close()
        msg = await ws.receive(timeout=10)
    assert (msg.type, msg.data, msg.extra) == (aiohttp.WSMsgType.CLOSE, 1001, "daemon shutting down")


async def test_the_hello_gives_the_reloaded_time_zone(client: TestClient, office: Repository) -> None:
    """The screen shows times in the office's zone of the moment: a SIGHUP that changes it reaches a
    screen opened after it."""
    reloader = client.app[RELOADER]
    new = reloader.current.model_copy(update={"timezone": "Asia/Omsk"})
    assert (await reloader.reload(lambda: new)).changed == ("timezone",)
    ws = await client.ws_connect("/ws?extension=105", headers=auth())
    assert (await next_message(ws))["timezone"] == "Asia/Omsk"
    await ws.close()
