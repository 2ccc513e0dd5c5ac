"""One spreadsheet row of a contacts export, made into clean values (no database here).

Which headers mean what (``CONTACT_ALIASES``), how a phones or e-mail cell is split,
which values are identifiers, which are kept as invalid ones, and when a row cannot
make a contact at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime

from daemon.domain.identifiers import Identifier, InvalidIdentifier, parse_identifier
from daemon.sheets import Row

# The old CSV format's own names (name;phones;email;responsible_extension;tags) come first.
CONTACT_ALIASES: dict[str, tuple[str, ...]] = {
    "name": ("name", "ФИО", "Имя", "Клиент", "Контакт", "Full name"),
    "phones": ("phones", "Телефон", "Телефоны", "Моб. телефон", "Мобильный телефон", "Мобильный",
               "Phone", "Phones", "Mobile"),
    "email": ("email", "E-mail", "Email", "Эл. почта", "Электронная почта", "Почта", "Mail"),
    "responsible": ("responsible_extension", "Ответственный", "Менеджер", "Responsible", "Manager"),
    "tags": ("tags", "Метки", "Теги", "Tags"),
    "birthday": ("birthday", "Дата рождения", "День рождения", "Д.р.", "ДР", "Birthday", "Date of birth"),
    "note": ("note", "Комментарий", "Комментарии", "Примечание", "Примечания", "Заметка", "Note", "Notes",
             "Comment"),
}
MULTI_FIELDS = frozenset({"phones", "email", "tags", "note"})  # several columns add up
IDENTIFIER_FIELDS = ("phones", "email")
NO_IDENTIFIER = "no valid phone or e-mail"
# No person's name is this long, and a longer one no longer fits the name index
# (contacts_name_key_idx: 2,704 bytes a row, up to 4 bytes a character).
MAX_NAME_CHARS = 500
_PHONE_SPLIT = re.compile(r"[,;/]+")
_EMAIL_SPLIT = re.compile(r"[,;\s]+")
_TAG_SPLIT = re.compile(r"[,;\n]+")
_DOTTED_DATE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
EARLIEST_BIRTH_YEAR = 1900


@dataclass
class ContactRow:
    number: int
    name: str | None = None
    responsible: str | None = None
    birthday: date | None = None
    note: str | None = None
    tags: list[str] = field(default_factory=list)
    identifiers: list[Identifier] = field(default_factory=list)
    invalid: list[InvalidIdentifier] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    refused: str | None = None  # a cell the reader refused (daemon.sheets.Row.refused)

    @property
    def skip_reason(self) -> str | None:
        """Why this row makes no contact, or None: only a valid phone or e-mail finds a person."""
        if self.refused:
            return self.refused
        if self.identifiers:
            return None
        return "; ".join([*self.notes, NO_IDENTIFIER])


def parse_contact_row(row: Row, *, region: str) -> ContactRow:
    if row.refused:
        return ContactRow(row.number, refused=row.refused)
    values = row.values
    if len(values.get("name", "")) > MAX_NAME_CHARS:
        return ContactRow(row.number, refused=name_too_long(values["name"]))
    out = ContactRow(row.number)
    out.name = " ".join(values.get("name", "").split()) or None
    out.responsible = " ".join(values.get("responsible", "").split()) or None
    out.tags = list(dict.fromkeys(t.strip() for t in _TAG_SPLIT.split(values.get("tags", "")) if t.strip()))
    out.note = values.get("note", "").strip() or None
    _birthday(out, values.get("birthday", ""), row.doubts.get("birthday", {}))
    _phones(out, values.get("phones", ""), row.doubts.get("phones", {}), region)
    _emails(out, values.get("email", ""))
    return out


def parse_birthday(text: str, *, today: date | None = None) -> date:
    """``15.03.1985``, ``1985-03-15`` or an Excel date cell's ISO text -> date; ValueError says why not."""
    text = text.strip()
    match = _DOTTED_DATE.fullmatch(text)
    try:
        if match:
            found = date(int(match[3]), int(match[2]), int(match[1]))
        else:
            found = datetime.fromisoformat(text).date()
    except ValueError:
        raise ValueError(f"birthday {text!r} is not a date such as 15.03.1985 or 1985-03-15") from None
    if not EARLIEST_BIRTH_YEAR <= found.year or found > (today or date.today()):
        raise ValueError(f"birthday {text!r} is not a plausible date of birth")
    return found


def _birthday(out: ContactRow, text: str, doubts: dict[str, str]) -> None:
    if not text:
        return
    if text in doubts:
        out.notes.append(f"birthday {doubts[text]}")
        return
    try:
        out.birthday = parse_birthday(text)
    except ValueError as exc:
        out.notes.append(str(exc))


def _phones(out: ContactRow, text: str, doubts: dict[str, str], region: str) -> None:
    for line in text.split("\n"):
        if line.strip() in doubts:
            # A number cell that lost digits: never guess which number it was.
            reason = doubts[line.strip()]
            _add(out, InvalidIdentifier("phone", line.strip(), reason), note=f"phone {reason}")
            continue
        for part in _PHONE_SPLIT.split(line):
            _add(out, parse_identifier("phone", part, region=region))


def _emails(out: ContactRow, text: str) -> None:
    for part in _EMAIL_SPLIT.split(text):
        _add(out, parse_identifier("email", part))


def _add(out: ContactRow, found: Identifier | InvalidIdentifier | None, *, note: str | None = None) -> None:
    if isinstance(found, Identifier):
        if found not in out.identifiers:
            out.identifiers.append(found)
    elif found is not None and found not in out.invalid:
        out.invalid.append(found)
        out.notes.append(note or f"{found.reason}: {found.value!r}")


def name_too_long(name: str) -> str:
    return f"the name has {len(name):,} characters (at most {MAX_NAME_CHARS}): not a person's name"
