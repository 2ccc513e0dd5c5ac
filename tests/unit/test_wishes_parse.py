"""The wish parser, field by field, on the issue's own examples (expected values written by hand)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.domain.errors import BadInput
from daemon.wishes.edit import edited_fields
from daemon.wishes.fields import kind_of, parse_fields
from daemon.wishes.morph import genitive
from daemon.wishes.parse import parse_inquiry, parse_text, refine
from daemon.wishes.places import stem
from daemon.wishes.summary import summary
from daemon.wishes.uon import uon_fields

AT = datetime(2026, 3, 10, 12, tzinfo=UTC)  # a Tuesday


def value(text: str, name: str, at: datetime = AT) -> Any:
    found = parse_text(text, at).get(name)
    return None if found is None else found.value


@pytest.mark.parametrize(("text", "want"), [
    ("с 10 по 20 июня", ("2026-06-10", "2026-06-20")),
    ("на майские", ("2026-05-01", "2026-05-10")),
    ("в начале июля", ("2026-07-01", "2026-07-10")),
    ("в июне, после 15-го", ("2026-06-15", None)),
    ("на Новый год", ("2026-12-28", "2027-01-08")),
    ("в феврале", ("2027-02-01", "2027-02-28")),  # no year: the next February ahead
    ("с 20 декабря по 5 января", ("2026-12-20", "2027-01-05")),
    ("конец сентября - начало октября", ("2026-09-21", "2026-10-10")),
    ("вылет 14.06", ("2026-06-14", "2026-06-14")),
    ("на следующей неделе", ("2026-03-16", "2026-03-22")),
    ("новогодние каникулы, с 27 декабря по 8 января", ("2026-12-27", "2027-01-08")),
])
def test_dates(text: str, want: tuple[str | None, str | None]) -> None:
    assert value(text, "dates") == {"date_from": want[0], "date_to": want[1]}


@pytest.mark.parametrize("text", ["договор от 01.03.2026", "перезвоните после 15:00", "ребенку 1.5 года"])
def test_no_date_where_there_is_none(text: str) -> None:
    assert value(text, "dates") is None


@pytest.mark.parametrize(("text", "want"), [
    ("10–12 ночей", (10, 12)), ("на неделю", (7, 7)), ("на 10 дней", (9, 9)), ("2 недели", (14, 14)),
    ("7н", (7, 7)), ("неделю-полторы", (7, 10)), ("дней на 10", (9, 9))])
def test_nights(text: str, want: tuple[int, int]) -> None:
    assert value(text, "nights") == {"nights_from": want[0], "nights_to": want[1]}


@pytest.mark.parametrize(("text", "adults", "children"), [
    ("2+1", 2, [None]),
    ("двое взрослых и ребёнок 7 лет", 2, [7]),
    ("я с мужем и с двумя детьми 3 и 8 лет", 2, [3, 8]),
    ("втроём", 3, None),
    ("2+2 (7 и 13)", 2, [7, 13]),
    ("семья из 4 человек, дети 5 и 8 лет", 2, [5, 8]),
    ("мама с ребенком 8 мес.", 1, [0]),
    ("2 взрослых, без детей", 2, []),
])
def test_travellers(text: str, adults: int, children: list[int | None] | None) -> None:
    assert (value(text, "adults"), value(text, "children")) == (adults, children)


@pytest.mark.parametrize(("text", "want"), [
    ("до 250 тыс", (None, 250_000, "RUB")), ("200–250к", (200_000, 250_000, "RUB")),
    ("150 000 руб", (None, 150_000, "RUB")), ("$3000", (None, 3000, "USD")),
    ("бюджет 3 млн на всех", (None, 3_000_000, "RUB")), ("от 100 тыс", (100_000, None, "RUB")),
    ("3000 евро", (None, 3000, "EUR")), ("бюджет 300", (None, 300_000, "RUB"))])
def test_budget(text: str, want: tuple[int | None, int | None, str]) -> None:
    assert value(text, "budget") == {"amount_from": want[0], "amount_to": want[1], "currency": want[2]}


@pytest.mark.parametrize("text", ["5 звезд", "на 10 ночей", "номер заказа №12345", "до 15 июня", "ребенку 12 лет"])
def test_no_budget_where_there_is_none(text: str) -> None:
    assert value(text, "budget") is None


@pytest.mark.parametrize(("text", "country", "resort"), [
    ("в Турцию", "Турция", None), ("отели Анталии", "Турция", "Анталья"), ("на Пхукет", "Таиланд", "Пхукет"),
    ("по Золотому кольцу", "Россия", "Золотое кольцо"), ("Египет, Шарм", "Египет", "Шарм-эль-Шейх"),
    ("Сочи, Красная Поляна", "Россия", "Красная Поляна"), ("в Тае", "Таиланд", None)])
def test_destination(text: str, country: str, resort: str | None) -> None:
    assert value(text, "destination") == {"country": country, "resort": resort}


@pytest.mark.parametrize(("text", "city"), [
    ("вылет из Казани", "Казань"), ("из Питера", "Санкт-Петербург"), ("вылет мск", "Москва"),
    ("2 взр, Уфа", "Уфа"), ("из Минеральных Вод", "Минеральные Воды")])
def test_departure_city(text: str, city: str) -> None:
    assert value(text, "departure_city") == city
    assert value(text, "destination") is None


def test_a_resort_flown_from_is_not_the_destination() -> None:
    assert value("из Сочи в Анталию", "departure_city") == "Сочи"
    assert value("из Сочи в Анталию", "destination") == {"country": "Турция", "resort": "Анталья"}


@pytest.mark.parametrize(("text", "stars", "meal"), [
    ("5*", 5, None), ("4-5 звезд, всё включено", 4, "AI"), ("AI", None, "AI"), ("завтраки", None, "BB"),
    ("ультра всё включено", None, "UAI"), ("всё включено не нужно, завтраки", None, "BB")])
def test_hotel(text: str, stars: int | None, meal: str | None) -> None:
    assert (value(text, "hotel_stars"), value(text, "meal")) == (stars, meal)


def test_a_later_message_refines_field_by_field() -> None:
    first = parse_text("хотим в турцию в июне, 2 взрослых", AT)
    later = refine(first, parse_text("а лучше в июле", AT))
    assert later["dates"].value == {"date_from": "2026-07-01", "date_to": "2026-07-31"}
    assert later["destination"].value["country"] == "Турция" and later["adults"].value == 2


def test_form_fields_by_name_and_the_comment() -> None:
    assert [kind_of(n) for n in ("Город вылета", "Дата вылета", "Возраст детей", "Куда", "adults", "Имя")] == [
        "departure", "dates", "child_ages", "destination", "adults", None]
    wish = parse_inquiry("Хотим Кемер, ребенку 3 года", [("Страна", "Турция"), ("Детей", "1"),
                                                         ("Бюджет", "200000"), ("Ночей", "7-9")], AT)
    assert wish["destination"].value == {"country": "Турция", "resort": "Кемер"}
    assert wish["children"].value == [3] and wish["nights"].value == {"nights_from": 7, "nights_to": 9}
    assert wish["budget"].value["amount_to"] == 200_000
    assert parse_fields([("date_from", "2026-06-10"), ("date_to", "2026-06-20")], AT)["dates"].value == {
        "date_from": "2026-06-10", "date_to": "2026-06-20"}


def test_stems_and_genitives() -> None:
    assert stem("турцию") == stem("турции") == stem("турция") == "турц"
    assert stem("гоа") == "гоа"  # short words stay whole: «15-го» is not Goa
    assert [genitive(c) for c in ("Казань", "Санкт-Петербург", "Минеральные Воды", "Ростов-на-Дону")] == [
        "Казани", "Санкт-Петербурга", "Минеральных Вод", "Ростова-на-Дону"]


WISH = {"destination": {"country": "Турция", "resort": "Анталья"}, "departure_city": "Казань",
        "date_from": "2026-06-01", "date_to": "2026-06-10", "nights_from": 10, "nights_to": 12, "adults": 2,
        "children": [5], "budget": {"amount_from": None, "amount_to": 250000, "currency": "RUB"},
        "hotel_stars": None, "meal": None, "flexible_dates": None}


def test_the_cards_line() -> None:
    assert summary(WISH) == ("Турция, Анталья · 1–10 июня · 10–12 ночей · 2 взр. + реб. 5 лет · "
                             "до 250\u00a0000 ₽ · из Казани")
    assert summary({"adults": 1, "children": [3, 8], "nights_from": 1, "nights_to": 1}) == "1 ночь · 1 взр. + 2 реб. (3 и 8 лет)"


def test_uon_fields() -> None:
    assert uon_fields(WISH) == {
        "countries": ["Турция"], "date_from": "2026-06-01", "date_to": "2026-06-10", "nights_from": 10,
        "nights_to": 12, "tourist_count": 2, "tourist_child_count": 1, "budget": 250000, "budget_currency": "RUB",
        "note": "Хотят: " + summary(WISH)}
    assert uon_fields({}) == {}


def test_an_edit_keeps_the_other_end_of_a_range_and_refuses_a_backward_one() -> None:
    fields = edited_fields({"nights_to": 14}, WISH, by="screen:105", at=AT)
    assert fields["nights"]["value"] == {"nights_from": 10, "nights_to": 14} and fields["nights"]["by"] == "screen:105"
    with pytest.raises(BadInput):
        edited_fields({"date_to": "2026-05-01"}, WISH, by="api", at=AT)
    with pytest.raises(BadInput):
        edited_fields({"hotel_stars": 7}, WISH, by="api", at=AT)


WORDS = ["ночей", "взр", "реб", "лет", "июня", "мая", "с", "по", "до", "тыс", "к", "из", "в", "2+2", "бюджет",
         "после", "-го", "недели", "дней", "звезд", "Турцию", "Казани", "$", "₽", "1.5", "12.06", "-", ",", "||"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(WORDS), st.integers(0, 3000).map(str), st.text(max_size=6)), max_size=60))
def test_any_text_gives_a_wish_within_its_bounds(parts: list[str]) -> None:
    """Whatever is written, the parser answers (no exception) and every value is one a wish can hold."""
    wish = parse_text(" ".join(parts), AT)
    if "dates" in wish:
        found = wish["dates"].value
        assert (found["date_to"] or found["date_from"]) >= AT.date().isoformat()
        assert found["date_to"] is None or found["date_from"] is None or found["date_from"] <= found["date_to"]
    if "nights" in wish:
        assert 1 <= wish["nights"].value["nights_from"] <= wish["nights"].value["nights_to"] <= 60
    if "adults" in wish:
        assert wish["adults"].value >= 1
    if "children" in wish:
        assert all(a is None or 0 <= a <= 17 for a in wish["children"].value)
    if "budget" in wish:
        low, high = wish["budget"].value["amount_from"], wish["budget"].value["amount_to"]
        assert (low is None or low >= 0) and (high is None or low is None or low <= high)


def test_zero_adults_is_no_wish() -> None:
    assert value("0 взр", "adults") is None and value("0+2", "adults") is None
