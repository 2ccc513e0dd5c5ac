"""A row's reasons in Russian for the person at the terminal (daemon/sheets/reasons.py), from the parsers' own words."""

from __future__ import annotations

import re

import pytest

from daemon.contacts.import_report import note_kind
from daemon.contacts.import_rows import NO_IDENTIFIER, name_too_long
from daemon.domain.identifiers import InvalidIdentifier, parse_identifier
from daemon.sheets.reasons import in_russian

KEPT_WORDS = {"e-mail", "Excel", "NUL"}  # the same in a Russian sentence


def english_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[A-Za-z][A-Za-z_-]{2,}", text) if w not in KEPT_WORDS]


def reason_of(kind: str, text: str) -> str:
    found = parse_identifier(kind, text)  # type: ignore[arg-type]
    assert isinstance(found, InvalidIdentifier)
    return f"{found.reason}: {found.value!r}"


@pytest.mark.parametrize(("reason", "russian"), [
    (f"{reason_of('phone', '12-34')}; {NO_IDENTIFIER}",
     "не номер телефона: '12-34'; нет ни верного телефона, ни верного e-mail"),
    (reason_of("email", "ivanov@"), "не адрес e-mail: 'ivanov@'"),
    (reason_of("phone", "1" * 40), f"больше 15 цифр: не может быть номером телефона: '{'1' * 40}'"),
    # The messenger kinds that take "an" (avito, instagram) read in Russian as the others do.
    (reason_of("avito", "1" * 70), f"длиннее 64 символов: не может быть id пользователя avito: '{'1' * 70}'"),
    (reason_of("instagram", "a" * 70), f"длиннее 64 символов: не может быть id пользователя instagram: '{'a' * 70}'"),
    (reason_of("telegram", "x1"), "не id пользователя telegram: 'x1'"),
    (reason_of("instagram", "@olga"), "не id instagram: только латинские буквы, цифры, «.», «_» и «-»: '@olga'"),
    ("phone number cell 9.16123e+21 has more digits than Excel keeps (15): the last ones are lost",
     "телефон: ячейка-число 9.16123e+21 длиннее 15 цифр, которые хранит Excel: последние цифры потеряны"),
    ("phone 9,16123E+09 is a number in scientific notation: its last 3 digit(s) are lost",
     "телефон: 9,16123E+09 — число в экспоненциальной записи: последние цифры (3) потеряны"),
    ("birthday '31.02.1980' is not a date such as 15.03.1985 or 1985-03-15",
     "дата рождения '31.02.1980' — не дата вида 15.03.1985 или 1985-03-15"),
    ("phone +79031112233 stays with contact #12", "телефон +79031112233 остаётся у контакта #12"),
    ("responsible Ким Анна names several managers: give the extension",
     "ответственный Ким Анна — имя нескольких менеджеров: укажите внутренний номер"),
    (name_too_long("я" * 600), "в имени 600 символов (не больше 500): это не имя человека"),
    ("the ad_source cell has 40,000 characters, more than a spreadsheet cell holds (32,767)",
     "в ячейке ad_source 40,000 символов: больше, чем вмещает ячейка таблицы (32,767)"),
    ("no order number", "нет номера заказа"),
    ("amount 'много' is not a number such as 125 000,50", "сумма 'много' — не число вида 125 000,50"),
    ("date '31.02.2025' does not exist", "даты '31.02.2025' не бывает"),
])
def test_each_reason_reads_in_russian_with_its_values(reason: str, russian: str) -> None:
    assert in_russian(reason) == russian


@pytest.mark.parametrize("note", [
    "not a valid phone number: '12-34'",
    "phone number cell 9.16123e+21 has more digits than Excel keeps (15): the last ones are lost",
    "e-mail a@example.ru stays with contact #3",
    "responsible 12ab is neither an extension nor a name",
    "birthday 'весной' is not a plausible date of birth",
    f"skipped: {NO_IDENTIFIER}",
])
def test_the_kind_of_a_note_reads_in_russian_too(note: str) -> None:
    kind = in_russian(note_kind(note) if not note.startswith("skipped") else note)
    assert english_words(kind) == [], kind


def test_a_reason_no_rule_knows_is_shown_as_it_was() -> None:
    assert in_russian("something new: 'x'") == "something new: 'x'"
