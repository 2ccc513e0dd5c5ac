"""Loading the agency's dialled lines and their ad sources from a spreadsheet.

It reads any export daemon.sheets reads (xlsx, xls, ods, CSV in UTF-8 or cp1251),
as the contacts import does (daemon.contacts.importer). A lines file is a few
dozen rows: it is applied row by row in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from daemon.domain.phones import line_key
from daemon.sheets import SheetError, read_table
from daemon.store.repository import Repository

ImportFileError = SheetError  # the file as a whole cannot be read: exit code 2, nothing written
LINE_ALIASES: dict[str, tuple[str, ...]] = {
    "line_number": ("line_number", "Линия", "Номер линии", "Номер", "Line"),
    "ad_source": ("ad_source", "Реклама", "Источник", "Рекламный источник", "Source"),
}

__all__ = ["ImportFileError", "LineReport", "import_lines"]


@dataclass
class LineReport:
    rows: int = 0
    created: int = 0
    merged: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)

    def lines(self, what: str) -> list[str]:
        out = [(f"линии: строк {self.rows}, создано {self.created}, обновлено существующих {self.merged}, "
                f"пропущено {len(self.skipped)}")]
        out += [f"  line {n}: skipped: {why}" for n, why in self.skipped]
        return out


async def import_lines(repo: Repository, path: Path, *, region: str, sheet: str | None = None,
                       mapping: Mapping[str, str] | None = None) -> LineReport:
    """Import ``line_number;ad_source`` rows; a line already known gets the new ad source."""
    report = LineReport()
    with read_table(path, LINE_ALIASES, sheet=sheet, mapping=mapping) as table:
        missing = [name for name in LINE_ALIASES if name not in table.columns]
        if missing:
            raise SheetError(f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(table.columns)}")
        rows = list(table.rows)  # file errors before any database work; a lines file is small
    async with repo.transaction() as tx:
        for row in rows:
            number, values = row.number, row.values
            report.rows += 1
            if row.refused:
                report.skipped.append((number, row.refused))
                continue
            key = line_key(values["line_number"], region)
            if key is None or not values["ad_source"]:
                report.skipped.append((number, "line_number and ad_source are both required"))
                continue
            known = await tx.ad_source_for_line(key)
            await tx.upsert_line(key, values["line_number"], values["ad_source"])
            if known is None:
                report.created += 1
            else:
                report.merged += 1
    return report
