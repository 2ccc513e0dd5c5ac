"""The missed-call report's data: one row per caller, shaped for the renderers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from daemon.report.inquiries import InquirySection, unanswered_inquiries
from daemon.report.limits import ROWS_SHOWN
from daemon.report.window import Window
from daemon.store.repository import Repository

RECORD_FIELDS = (
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
    "waiting_since",
    "do_not_call_reason",
    "tags",
)
# What CSV and JSON carry per row: the record, and its age and whether it is the night's.
ROW_FIELDS = (*RECORD_FIELDS, "age_hours", "since_close")


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
    # The first missed call not reached back since; None once called back.
    waiting_since: datetime | None = None
    # Set when the caller asked not to be called: marked, not listed as one to call back.
    do_not_call_reason: str | None = None
    tags: tuple[str, ...] = ()  # the contact's, computed ones included (daemon/leads/tags.py)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> MissedRow:
        values = {name: record[name] for name in RECORD_FIELDS}
        values["tags"] = tuple(values["tags"] or ())
        return cls(**values)


@dataclass(frozen=True)
class MissedReport:
    window: Window
    tz: ZoneInfo
    include_called_back: bool
    rows: tuple[MissedRow, ...]
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    inquiries: InquirySection = field(default_factory=InquirySection)  # nobody answered them
    limit: int = ROWS_SHOWN  # rows shown; the counts above count them all

    @property
    def shown(self) -> tuple[MissedRow, ...]:
        return self.rows[:self.limit]

    @property
    def more(self) -> int:
        """Callers left out of the lists (counted in the summary all the same)."""
        return max(0, len(self.rows) - self.limit)

    def age_seconds(self, row: MissedRow) -> float | None:
        """Seconds the caller had waited for a call back at the window's end (now, by default)."""
        if row.waiting_since is None:
            return None
        return max(0.0, (self.window.until - row.waiting_since).total_seconds())

    def age_hours(self, row: MissedRow) -> int | None:
        """Whole hours the caller had waited (the programs' field; people read ``age_seconds``)."""
        seconds = self.age_seconds(row)
        return None if seconds is None else int(seconds // 3600)

    def since_close(self, row: MissedRow) -> bool | None:
        """Whether the caller was missed since the previous close (None: not the default window)."""
        night = self.window.night_since
        return None if night is None else row.last_missed_at >= night

    @property
    def missed_calls(self) -> int:
        return sum(row.missed_calls for row in self.rows)

    @property
    def to_call_back(self) -> int:
        return sum(1 for row in self.rows
                   if not row.called_back and row.phone is not None and row.do_not_call_reason is None)

    def groups(self) -> list[tuple[tuple[str | None, str | None] | None, list[MissedRow]]]:
        """The shown rows by responsible manager ((extension, name), or None), in report order.

        A manager an import knew by name only (no extension yet) is still that manager."""
        found: dict[tuple[str | None, str | None] | None, list[MissedRow]] = {}
        for row in self.shown:
            key = (
                (row.responsible_extension, row.responsible_name)
                if row.responsible_extension or row.responsible_name
                else None
            )
            found.setdefault(key, []).append(row)
        return list(found.items())


def _order(row: MissedRow, night: datetime | None) -> tuple[Any, ...]:
    """Managers by extension, then those known by name only, the unassigned last;
    the night's callers first; newest first."""
    return (
        row.responsible_extension is None and row.responsible_name is None,
        row.responsible_extension is None,
        row.responsible_extension or row.responsible_name or "",
        night is not None and row.last_missed_at < night,
        -row.last_missed_at.timestamp(),
        row.phone or "",
    )


async def missed_report(
    repo: Repository, window: Window, *, tz: ZoneInfo, include_called_back: bool = False,
    limit: int = ROWS_SHOWN,
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
        rows=tuple(sorted(rows, key=lambda row: _order(row, window.night_since))),
        inquiries=await unanswered_inquiries(repo, window, limit=limit),
        limit=limit,
    )
