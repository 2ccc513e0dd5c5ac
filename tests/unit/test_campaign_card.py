"""The «Реактивация» card in a person's words: trip statuses in Russian, the score with its reasons."""

from __future__ import annotations

import json
from typing import Any

from daemon.domain import readable
from daemon.leads.campaigns import card_json


def card(**overrides: Any) -> dict[str, Any]:
    row = {"contact_id": 7, "name": "Орлов", "phones": ["+79031112233"], "emails": [], "tags": [],
           "score": None, "score_reasons": None, "preferred_channel": None, "birthday": None,
           "responsible_extension": None, "responsible_name": None, "notes": "[]",
           "trips": json.dumps([{"id": 1, "order_number": "T-1", "status": "paid", "amount": 125000.5,
                                 "starts_on": "2025-05-15", "ends_on": "2025-05-25"},
                                {"id": 2, "order_number": "T-2", "status": "cancelled", "amount": None,
                                 "starts_on": None, "ends_on": None}])}
    return card_json(row | overrides)  # type: ignore[arg-type]


def test_trip_statuses_are_in_russian_and_the_stored_status_stays_for_programs() -> None:
    trips = card()["trips"]
    assert [(t["status"], t["status_text"]) for t in trips] == [("paid", "оплачена"), ("cancelled", "отменена")]
    assert "id" not in trips[0]


def test_a_contact_never_scored_reads_no_data() -> None:
    found = card()
    assert (found["score"], found["score_reasons"], found["score_text"]) == (None, [], "нет данных")


def test_the_score_is_shown_with_its_reasons() -> None:
    reasons = [{"reason": "Оплаченных поездок за 24 мес.: 2", "points": 30}, {"reason": "Не отвечает", "points": -5}]
    found = card(score=25, score_reasons=json.dumps(reasons, ensure_ascii=False))
    assert found["score_text"] == "25: Оплаченных поездок за 24 мес.: 2 (+30); Не отвечает (-5)"


def test_a_zero_score_says_that_no_reason_gave_points_rather_than_nothing() -> None:
    assert card(score=0, score_reasons="[]")["score_text"] == "0: ни одна причина не дала баллов"


def test_an_unknown_status_is_shown_as_it_is() -> None:
    assert readable.trip_status("booked") == "booked" and readable.trip_status(None) == "—"
