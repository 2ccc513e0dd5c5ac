"""The missed-call report's data: one row per caller, shaped for the renderers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from daemon.report.window import Window
from daemon.repository import Repository

ROW_FIELDS = (
    "phone",
    "contact_id",
    "contact_name",
    "responsible_extension",
    "responsible_name",
    "missed_calls",
    "first_missed_at",
    "last_missed_at",
    "line_number",
    "ad_source",
    "called_back",
    "tags",
)


@dataclass(frozen=True)
class MissedRow:
    phone: str | None  # E.164; verbatim when the caller is not a phone; None when hidden
    contact_id: int | None
    contact_name: str | None
    responsible_extension: str | None
    responsible_name: str | None
    missed_calls: int
    first_missed_at: datetime
    last_missed_at: datetime
    line_number: str | None
    ad_source: str | None
    called_back: bool
    tags: tuple[str, ...] = ()  # the contact's, computed ones included (daemon/leads/tags.py)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> MissedRow:
        values = {name: record[name] for name in ROW_FIELDS}
        values["tags"] = tuple(values["tags"] or ())
        return cls(**values)


@dataclass(frozen=True)
class MissedReport:
    window: Window
    tz: ZoneInfo
    include_called_back: bool
    rows: tuple[MissedRow, ...]
    generated_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    @property
    def missed_calls(self) -> int:
        return sum(row.missed_calls for row in self.rows)

    @property
    def to_call_back(self) -> int:
        return sum(1 for row in self.rows if not row.called_back and row.phone is not None)

    def groups(self) -> list[tuple[tuple[str, str | None] | None, list[MissedRow]]]:
        """Rows by responsible manager ((extension, name), or None), in report order."""
        found: dict[tuple[str, str | None] | None, list[MissedRow]] = {}
        for row in self.rows:
            key = (
                (row.responsible_extension, row.responsible_name)
                if row.responsible_extension
                else None
            )
            found.setdefault(key, []).append(row)
        return list(found.items())


def _order(row: MissedRow) -> tuple[Any, ...]:
    """Managers by extension, the unassigned after them; newest missed call first."""
    return (
        row.responsible_extension is None,
        row.responsible_extension or "",
        -row.last_missed_at.timestamp(),
        row.phone or "",
    )


async def missed_report(
    repo: Repository, window: Window, *, tz: ZoneInfo, include_called_back: bool = False
) -> MissedReport:
    """Callers whose calls were missed in the window; those reached since, only when asked."""
    records = await repo.missed_callers(since=window.since, until=window.until)
    rows = [MissedRow.from_record(r) for r in records]
    if not include_called_back:
        rows = [row for row in rows if not row.called_back]
    return MissedReport(
        window=window,
        tz=tz,
        include_called_back=include_called_back,
        rows=tuple(sorted(rows, key=_order)),
    )
