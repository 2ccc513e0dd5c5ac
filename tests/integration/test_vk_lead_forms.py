"""VK ad lead forms (``lead_forms_new``): one inquiry per lead, with the person its answers give."""

from __future__ import annotations

import copy
from typing import Any

from aiohttp.test_utils import TestClient

from daemon.store.repository import Repository
from tests.channels import example
from tests.integration.test_inquiries import app_client, contact_by

__all__ = ["app_client"]  # a fixture of test_inquiries, used here too


def lead_event(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(example("vk_lead_forms_new")["request"]["body"])
    body.update({k: v for k, v in changes.items() if k != "object"})
    body["object"].update(changes.get("object", {}))
    return body


async def post(client: TestClient, body: dict[str, Any]) -> tuple[int, str]:
    resp = await client.post("/inquiries/vk-group", json=body)
    return resp.status, await resp.text()


async def test_a_lead_resent_under_another_event_id_is_one_lead(app_client: TestClient, repo: Repository) -> None:
    """Deduplicated by the lead, not by the notification; the ad source comes from the form's name."""
    assert await post(app_client, lead_event()) == (200, "ok")
    assert await post(app_client, lead_event(event_id="another-delivery")) == (200, "ok")
    assert await repo.pool.fetchval("SELECT count(*) FROM inbox") == 1
    comm = await repo.pool.fetchrow("SELECT * FROM communications WHERE source = 'vk-group'")
    assert (comm["channel"], comm["external_id"], comm["ad_source"]) == ("vk", "lead:229876543:17", "VK Реклама")
    assert comm["contact_id"] == await contact_by(repo, "vk", "612345789") == await contact_by(
        repo, "phone", "+79095550707")
    assert "Куда хотите поехать?: Турция или Египет, июль, 2 взрослых" in comm["text"]


async def test_answers_in_the_shape_of_get_leads_are_read(app_client: TestClient, repo: Repository) -> None:
    """``{key, value}`` answers and a checkbox's list of them, as ``leadForms.getLeads`` gives them."""
    answers = [
        {"key": "first_name", "question": "Имя", "answer": {"value": "Ирина"}},
        {"key": "phone_number", "question": "Телефон", "answer": {"key": "phone_number", "value": "89265550909"}},
        {"key": "custom_0", "question": "Куда?", "answer": [{"value": "Турция"}, {"value": "Египет"}]},
    ]
    body = lead_event(object={"lead_id": 19, "user_id": 634567812, "answers": answers})
    del body["object"]["ad_id"]
    assert await post(app_client, body) == (200, "ok")
    contact = await contact_by(repo, "phone", "+79265550909")
    assert await repo.pool.fetchval("SELECT name FROM contacts WHERE id = $1", contact) == "Ирина"
    assert "Куда?: Турция, Египет" in await repo.pool.fetchval("SELECT text FROM communications")


async def test_a_lead_without_user_id_is_known_by_its_answers(app_client: TestClient, repo: Repository) -> None:
    body = lead_event(object={"lead_id": 20})
    del body["object"]["user_id"]
    assert await post(app_client, body) == (200, "ok")
    assert await contact_by(repo, "phone", "+79095550707") is not None
    assert await contact_by(repo, "vk", "612345789") is None


async def test_a_lead_with_no_way_to_reply_is_refused(app_client: TestClient, repo: Repository) -> None:
    body = lead_event(object={"answers": [{"key": "first_name", "answer": "Аноним"}]})
    del body["object"]["user_id"]
    status, text = await post(app_client, body)
    assert status == 400 and "way to reply" in text
    assert await repo.pool.fetchval("SELECT count(*) FROM inbox") == 0
