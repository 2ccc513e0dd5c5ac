"""A spreadsheet row's reasons in Russian, for the person at the terminal: one place for every import.

The parsers (daemon/sheets, daemon/domain/identifiers.py, daemon/contacts/import_rows.py,
the import's SQL, daemon/leads/trips.py) write a row's notes and skip reasons in their
own words, which the ``--report`` CSV keeps as they are: its ``outcome`` codes
(``created``, ``updated #id``, ``merged into #id``, ``skipped: …``) and notes are what a
program matches. ``callbridge import contacts|trips`` shows them to a person through
``in_russian``: each part (parts are joined by ``; ``) by the first rule that matches,
its values (quoted text, numbers) kept; a part no rule knows stays as it was.
"""

from __future__ import annotations

import re

_N = r"(?P<n>[\d,]+|…)"  # a number, or "…" in a kind of note (its values left out)
_F = r"(?P<field>phone |birthday )?"  # a doubted number cell's field, as import_rows names it
# (the parser's words, the Russian words with the same named values)
_RULES: tuple[tuple[str, str], ...] = (
    (r"skipped", "пропущена"),
    (r"no valid phone or e-mail", "нет ни верного телефона, ни верного e-mail"),
    (r"not a valid phone number(?P<rest>: .*)?", "не номер телефона{rest}"),
    (r"not an e-mail address(?P<rest>: .*)?", "не адрес e-mail{rest}"),
    (r"not a (?P<kind>\S+) user id(?P<rest>: .*)?", "не id пользователя {kind}{rest}"),
    (r"not an instagram id: letters, digits, '\.', '_' and '-' only(?P<rest>: .*)?",
     "не id instagram: только латинские буквы, цифры, «.», «_» и «-»{rest}"),
    (rf"longer than {_N} characters: cannot be an e-mail address(?P<rest>: .*)?",
     "длиннее {n} символов: не может быть адресом e-mail{rest}"),
    (rf"more than {_N} digits: cannot be a phone number(?P<rest>: .*)?",
     "больше {n} цифр: не может быть номером телефона{rest}"),
    (rf"longer than {_N} characters: cannot be an? (?P<kind>\S+) user id(?P<rest>: .*)?",
     "длиннее {n} символов: не может быть id пользователя {kind}{rest}"),
    (rf"{_F}number cell (?P<v>.+) has more digits than Excel keeps \(15\): the last ones are lost",
     "{field}ячейка-число {v} длиннее 15 цифр, которые хранит Excel: последние цифры потеряны"),
    (rf"{_F}number cell (?P<v>.+) is not a whole number",
     "{field}ячейка-число {v} — не целое число"),
    (rf"{_F}number cell (?P<v>.+) is not a number", "{field}ячейка-число {v} — не число"),
    (rf"{_F}(?P<v>.+) is a number in scientific notation: its last (?P<n>\d+) digit\(s\) are lost",
     "{field}{v} — число в экспоненциальной записи: последние цифры ({n}) потеряны"),
    (rf"{_F}(?P<v>.+) is a number in scientific notation, not a whole number",
     "{field}{v} — число в экспоненциальной записи, не целое"),
    (r"birthday (?P<v>.+) is not a date such as 15\.03\.1985 or 1985-03-15",
     "дата рождения {v} — не дата вида 15.03.1985 или 1985-03-15"),
    (r"birthday (?P<v>.+) is not a plausible date of birth", "дата рождения {v} — не похожа на настоящую"),
    (r"birthday is not a date such as 15\.03\.1985", "дата рождения — не дата вида 15.03.1985"),
    # Kinds of notes (daemon/contacts/import_report.note_kind: the values left out as "…").
    (rf"{_F}number cell … has more digits than Excel keeps …",
     "{field}ячейка-число длиннее 15 цифр, которые хранит Excel"),
    (rf"longer than {_N} characters", "длиннее {n} символов"),
    (rf"more than {_N} digits", "больше {n} цифр"),
    (rf"the name has {_N} characters \(at most (?P<m>[\d…]+)\)", "в имени {n} символов (не больше {m})"),
    (rf"the (?P<v>\S+) cell has {_N} characters, more than a spreadsheet cell holds …",
     "в ячейке {v} {n} символов: больше, чем вмещает ячейка таблицы"),
    (r"birthday is not a plausible date of birth", "дата рождения — не похожа на настоящую"),
    (rf"the name has {_N} characters \(at most (?P<m>\d+)\): not a person's name",
     "в имени {n} символов (не больше {m}): это не имя человека"),
    (rf"the (?P<v>.+) cell has {_N} characters, more than a spreadsheet cell holds \((?P<m>[\d,]+)\)",
     "в ячейке {v} {n} символов: больше, чем вмещает ячейка таблицы ({m})"),
    (r"the (?P<v>.+) cell holds a NUL character, which no text field can store",
     "в ячейке {v} символ NUL: его не сохранит ни одно текстовое поле"),
    (r"phone or e-mail held by another contact", "телефон или e-mail уже у другого контакта"),
    (r"(?P<kind>phone|e-mail) (?P<v>\S+) stays with contact #(?P<n>\d+)", "{kind} {v} остаётся у контакта #{n}"),
    (r"responsible is neither an extension nor a name", "ответственный — не внутренний номер и не имя"),
    (r"responsible names several managers", "ответственный — имя нескольких менеджеров"),
    (r"responsible (?P<v>.*) is neither an extension nor a name", "ответственный {v} — не внутренний номер и не имя"),
    (r"responsible (?P<v>.*) names several managers: give the extension",
     "ответственный {v} — имя нескольких менеджеров: укажите внутренний номер"),
    (r"no order number", "нет номера заказа"),
    (rf"the order number has {_N} characters \(at most (?P<m>\d+)\): not an order number",
     "в номере заказа {n} символов (не больше {m}): это не номер заказа"),
    (r"amount (?P<v>.+) is not a number such as 125 000,50", "сумма {v} — не число вида 125 000,50"),
    (r"amount (?P<v>.+) is out of range", "сумма {v} вне допустимых пределов"),
    (r"date (?P<v>.+) does not exist", "даты {v} не бывает"),
    (r"date (?P<v>.+) is not a date such as 15\.05\.2025 or 2025-05-15",
     "дата {v} — не дата вида 15.05.2025 или 2025-05-15"),
)
_COMPILED = tuple((re.compile(pattern), words) for pattern, words in _RULES)
_FIELDS = {"phone ": "телефон: ", "birthday ": "дата рождения: ", "phone": "телефон", "e-mail": "e-mail"}


def in_russian(reason: str) -> str:
    """``not a valid phone number: '12-34'; no valid phone or e-mail`` -> the same in Russian."""
    return "; ".join(_part(part) for part in reason.split("; "))


def _part(part: str) -> str:
    head, sep, tail = part.partition(": ")
    if head in ("skipped", "пропущена") and sep:  # «skipped: <why>»: the why, translated
        return f"пропущена: {in_russian(tail)}"
    for pattern, words in _COMPILED:
        match = pattern.fullmatch(part)
        if match:
            values = {k: _FIELDS.get(v, v) if k in ("field", "kind") else v
                      for k, v in match.groupdict(default="").items()}
            return words.format(**values)
    return part
