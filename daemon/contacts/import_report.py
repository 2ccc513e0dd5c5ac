"""What ``callbridge import contacts`` tells the person at the terminal: counts, then notes by kind.

Every row's outcome goes to the ``--report`` CSV; the terminal gets the counts, the
columns the file has but the import does not use, and each kind of note or skip
reason once, with how many rows have it and the first few of them as examples: one
kind of problem on 20,000 rows is a few lines, not a screenful of one of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from daemon.contacts.import_store import Outcome
from daemon.domain import readable
from daemon.sheets.reasons import in_russian

EXAMPLES_PER_KIND = 3
WHAT = {"contacts": "контакты", "lines": "линии"}
# Notes whose varying part is not quoted nor a number: the kind is named here.
_NAMED_KINDS = (
    (re.compile(r"^(phone|e-mail) \S+ stays with contact #\d+$"), "phone or e-mail held by another contact"),
    (re.compile(r"^responsible .* is neither an extension nor a name$"),
     "responsible is neither an extension nor a name"),
    (re.compile(r"^responsible .* names several managers"), "responsible names several managers"),
    (re.compile(r"^birthday .* is not a date such as"), "birthday is not a date such as 15.03.1985"),
    (re.compile(r"^birthday .* is not a plausible date of birth$"), "birthday is not a plausible date of birth"),
)
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_WITH_DIGITS = re.compile(r"\S*\d\S*")


def note_kind(note: str) -> str:
    """A note without its row's values: ``not a valid phone number: '12-34'`` -> ``not a valid phone number``."""
    for pattern, kind in _NAMED_KINDS:
        if pattern.match(note):
            return kind
    head = _QUOTED.sub("…", note).split(":", 1)[0]
    return " ".join(_WITH_DIGITS.sub("…", head).split())


@dataclass
class NoteKind:
    rows: int = 0
    examples: list[tuple[int, str]] = field(default_factory=list)

    def add(self, row_no: int, text: str) -> None:
        self.rows += 1
        if len(self.examples) < EXAMPLES_PER_KIND:
            self.examples.append((row_no, text))


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    merged: int = 0
    skipped: int = 0
    noted: int = 0  # rows imported with a note (an invalid phone kept, an identifier left elsewhere)
    dry_run: bool = False
    ignored_columns: list[str] = field(default_factory=list)
    analyze_s: float | None = None  # how long the ANALYZE of the written tables took
    kinds: dict[str, NoteKind] = field(default_factory=dict)

    def count(self, outcomes: Iterable[Outcome]) -> None:
        for row_no, outcome, _, notes in outcomes:
            self.rows += 1
            if outcome.startswith("skipped"):
                self.skipped += 1
                reason = outcome.removeprefix("skipped: ")
                self._kind(f"skipped: {note_kind(reason.rsplit('; ', 1)[-1])}").add(row_no, reason)
                continue
            if outcome == "created":
                self.created += 1
            elif outcome.startswith("updated"):
                self.updated += 1
            else:
                self.merged += 1
            if notes:
                self.noted += 1
            for note in dict.fromkeys(notes):
                self._kind(note_kind(note)).add(row_no, note)

    def _kind(self, kind: str) -> NoteKind:
        return self.kinds.setdefault(kind, NoteKind())

    def lines(self, what: str = "contacts") -> list[str]:
        """The summary a person reads after an import, the rows' reasons in Russian (daemon/sheets/reasons.py)."""
        head = (f"{WHAT.get(what, what)}: строк {self.rows}, создано {self.created}, обновлено {self.updated}, "
                f"объединено {self.merged}, пропущено {self.skipped}, с замечаниями {self.noted}")
        out = [head + (" (пробный прогон: ничего не записано)" if self.dry_run else "")]
        if self.ignored_columns:
            out.append(f"пропущенные столбцы: {', '.join(self.ignored_columns)}")
        for kind, found in sorted(self.kinds.items(), key=lambda item: (-item[1].rows, item[0])):
            out.append(f"  {in_russian(kind)}: {readable.plural(found.rows, 'строка', 'строки', 'строк')}")
            out += [f"    строка {n}: {in_russian(text)}" for n, text in found.examples]
        if any(found.rows > EXAMPLES_PER_KIND for found in self.kinds.values()):
            out.append("  итог каждой строки: --report FILE")
        if self.analyze_s is not None:
            out.append(f"статистика обновлена (ANALYZE) за {self.analyze_s:.1f} с")
        return out
