"""A messy agency export of N rows, written with XlsxWriter in constant_memory mode.

Like the real ones: a title line above the header, headers in odd spelling, phones
as number cells and as text in four spellings, two phones in some cells, e-mails in
odd case, one row in ten repeating an earlier person (by phone or by e-mail), a few
invalid phones and e-mails, a few rows with nothing to find a person by.
Deterministic for a given N and seed; phones are unique by construction
(a bijection of the row index onto Moscow mobile numbers), so no set is held.
"""

from __future__ import annotations

import random
from pathlib import Path

import xlsxwriter

HEADER = ["ФИО", "Моб. телефон", "Телефоны", "E-mail", "Ответственный", "Метки", "Комментарий"]
FIRST = ["Анна", "Иван", "Мария", "Дмитрий", "Ольга", "Сергей", "Елена", "Алексей", "Наталья", "Пётр"]
LAST = ["Кузнецов", "Орлов", "Смирнов", "Васильев", "Попов", "Соколов", "Морозов", "Волков"]
TAGS = ["vip", "горящие туры", "постоянный турист", "холодный", "семья", ""]
_SPREAD = 387_420_489  # coprime with 10**9: i -> (i * _SPREAD) % 10**9 is a bijection


def phone_digits(i: int) -> str:
    return f"9{(i * _SPREAD) % 10**9:09d}"


def spelled(digits: str, rng: random.Random) -> str | int:
    """The same number as a number cell or in one of the usual text spellings."""
    kind = rng.randrange(5)
    if kind == 0:
        return int("7" + digits)  # a number cell, as Excel stores a typed phone
    if kind == 1:
        return f"8 ({digits[:3]}) {digits[3:6]}-{digits[6:8]}-{digits[8:]}"
    if kind == 2:
        return f"+7 {digits[:3]} {digits[3:]}"
    if kind == 3:
        return f"7{digits}"
    return digits


def write_export(path: Path, rows: int, *, seed: int = 10) -> Path:
    rng = random.Random(seed)
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet("Клиенты")
    sheet.write_row(0, 0, ["Выгрузка клиентов"])
    sheet.write_row(2, 0, HEADER)
    for n in range(rows):
        sheet.write_row(3 + n, 0, _row(n, rng))
    book.close()
    return path


def _row(n: int, rng: random.Random) -> list[str | int]:
    roll = rng.random()
    person = rng.randrange(max(n, 1)) if roll < 0.10 and n > 0 else n  # 10 %: an earlier person again
    name = f"{LAST[person % len(LAST)]} {FIRST[person % len(FIRST)]} {person}"
    mobile: str | int = spelled(phone_digits(person), rng)
    others: str | int = ""
    if person % 5 == 0:
        others = f"{spelled(phone_digits(person + 10**8), rng)}; {spelled(phone_digits(person + 2 * 10**8), rng)}"
    email = f"client{person}@example.ru" if person % 2 == 0 else ""
    if person != n and rng.random() < 0.5:  # a repeat found by its e-mail only, in odd case
        mobile, email = "", f"CLIENT{person}@Example.RU" if person % 2 == 0 else email
    if roll > 0.98:
        others = "12-34"
        email = email or "ivanov@"
    if roll > 0.99 and person == n:
        mobile, others, email = "", "", ""  # nothing to find this person by: skipped
    return [name, mobile, others, email, str(101 + person % 20), TAGS[person % len(TAGS)], ""]
