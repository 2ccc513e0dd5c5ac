"""Reconciliation: fill in the calls the PBX never delivered, from its statistics.

The PBX does not promise to deliver its webhooks. Each night (and on demand)
we fetch its statistics for a window and turn every call in them into the
``CallFinished`` event its summary would have been, marked ``reconciled``,
under a dedup key of its own, ``mango:reconciled:<entry_id>``. It must not
borrow the live summary's key (``mango:summary:<entry_id>``): a live summary
arriving after a reconcile would then be answered "duplicate" and dropped,
and the derivation's preference for the PBX's own words could never apply.
Applied through the same pipeline as live events: a call whose live summary
we have is left alone (nothing is stored); a call we never heard of is
created; a call whose summary was lost is completed. Running it twice
changes nothing (the second reconciled summary is a duplicate).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import aiohttp
import structlog

from adapters.mango.stats import BadLine, StatsClient, StatsRow, parse_stats_csv
from adapters.mango.translate import SOURCE
from config.settings import Settings
from daemon.domain.errors import StorageError
from daemon.domain.events import CallFinished, Direction, Envelope, Party
from daemon.intake.pipeline import Pipeline
from daemon.report.window import Window, resolve
from daemon.report.window import reconcile_window as default_window

log = structlog.get_logger(__name__)

PATH = "reconcile"


@dataclass
class ReconcileReport:
    window: Window | None = None
    calls: int = 0
    created: list[str] = field(default_factory=list)  # calls we had never heard of
    completed: list[str] = field(default_factory=list)  # calls whose summary had not arrived
    known: int = 0  # calls we already had in full
    failed: list[str] = field(default_factory=list)  # refused by the database
    bad_lines: list[BadLine] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.bad_lines

    def lines(self) -> list[str]:
        summary = (
            f"сверено звонков по статистике АТС: {self.calls}; "
            f"создано {len(self.created)}, дополнено {len(self.completed)}, "
            f"уже известны {self.known}"
        )
        out = [summary]
        out += [f"  создан {entry_id}" for entry_id in self.created]
        out += [f"  дополнен {entry_id}" for entry_id in self.completed]
        out += [f"  не записан {entry_id} (см. журнал)" for entry_id in self.failed]
        out += [
            f"  строка {bad.line_no} пропущена: {bad.problem}: {bad.raw[:120]}"
            for bad in self.bad_lines
        ]
        return out


def _direction(first: StatsRow) -> Direction:
    if first.from_extension:
        return "internal" if first.to_extension else "outbound"
    return "inbound"


def call_finished(rows: list[StatsRow]) -> CallFinished:
    """The summary the PBX would have sent for the call these rows (one entry_id) describe."""
    rows = sorted(rows, key=lambda r: (r.start, r.line_no))
    first = rows[0]
    answered = sorted((r for r in rows if r.answer > 0), key=lambda r: (r.answer, r.line_no))
    callee_row = answered[0] if answered else first
    last = max(rows, key=lambda r: (r.finish, r.line_no))
    recordings: list[str] = []
    for row in rows:
        recordings += [rid for rid in row.records if rid not in recordings]
    return CallFinished(
        entry_id=first.entry_id,
        direction=_direction(first),
        caller=Party(extension=first.from_extension, number=first.from_number),
        callee=Party(extension=callee_row.to_extension, number=callee_row.to_number),
        line_number=next((r.line_number for r in rows if r.line_number), None),
        created_at=first.start,
        answered_at=answered[0].answer if answered else None,
        ended_at=max(last.finish, first.start),
        talked=bool(answered),
        disconnect_reason=last.disconnect_reason,
        reconciled=True,
        recording_ids=tuple(recordings),
    )


def dedup_key(entry_id: str) -> str:
    """The reconciled summary's own key, beside (never instead of) the live ``mango:summary:``."""
    return f"{SOURCE}:reconciled:{entry_id}"


def envelopes(rows: list[StatsRow]) -> list[Envelope]:
    """One envelope per call, under its reconciled key, the CSV lines as its raw text."""
    by_entry: dict[str, list[StatsRow]] = defaultdict(list)
    for row in rows:
        by_entry[row.entry_id].append(row)
    found = []
    for entry_id, entry_rows in by_entry.items():
        raw = "\n".join(r.raw for r in sorted(entry_rows, key=lambda r: r.line_no))
        found.append(
            Envelope(
                source=SOURCE,
                path=PATH,
                raw=raw,
                dedup_key=dedup_key(entry_id),
                event=call_finished(entry_rows),
            )
        )
    return sorted(found, key=lambda env: (env.event.created_at, env.dedup_key))  # type: ignore[union-attr]


async def apply_stats(
    pipeline: Pipeline, csv_text: str, *, window: Window | None = None
) -> ReconcileReport:
    """Apply every call of a statistics CSV; a call we have is a no-op."""
    rows, bad = parse_stats_csv(csv_text)
    for line in bad:
        log.warning(
            "reconcile_line_skipped", line_no=line.line_no, problem=line.problem, raw=line.raw[:200]
        )
    report = ReconcileReport(window=window, bad_lines=bad)
    pending = envelopes(rows)
    report.calls = len(pending)
    entry_ids = [env.entry_id for env in pending if env.entry_id]
    known = await pipeline.repo.known_entry_ids(entry_ids)
    summarised = await pipeline.repo.entries_with_live_summary(entry_ids)
    for env in pending:
        entry_id = env.entry_id or ""
        if entry_id in summarised:
            # The PBX's own summary is there and would win anyway: store nothing.
            report.known += 1
            continue
        try:
            outcome = await pipeline.apply(env)
        except StorageError:
            log.exception("reconcile_call_not_stored", entry_id=entry_id)
            report.failed.append(entry_id)
            continue
        if outcome == "duplicate":
            report.known += 1
        elif entry_id in known:
            report.completed.append(entry_id)
            log.info("reconcile_call_completed", entry_id=entry_id)
        else:
            report.created.append(entry_id)
            log.info("reconcile_call_created", entry_id=entry_id)
    return report


async def reconcile(pipeline: Pipeline, stats: StatsClient, window: Window) -> ReconcileReport:
    """Fetch the PBX's statistics of the window and apply them."""
    date_from = math.floor(window.since.timestamp())
    date_to = math.ceil(window.until.timestamp())
    log.info("reconcile_started", date_from=date_from, date_to=date_to)
    csv_text = await stats.fetch(date_from, date_to)
    report = await apply_stats(pipeline, csv_text, window=window)
    log.info(
        "reconcile_finished",
        calls=report.calls,
        created=len(report.created),
        completed=len(report.completed),
        known=report.known,
        failed=len(report.failed),
        bad_lines=len(report.bad_lines),
    )
    return report


async def reconcile_command(
    settings: Settings, pipeline: Pipeline, *, since: str | None, until: str | None
) -> ReconcileReport:
    """``callbridge reconcile``: the default window is yesterday and today, office time."""
    window = resolve(
        lambda end: default_window(settings, end), since=since, until=until, tz=settings.tz
    )
    settings.require("mango_api_key", "mango_api_salt")
    timeout = aiohttp.ClientTimeout(total=settings.mango.request_timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        stats = StatsClient(
            session,
            base_url=settings.mango.api_url,
            api_key=settings.secret("mango_api_key"),
            api_salt=settings.secret("mango_api_salt"),
            timeout_s=settings.mango.request_timeout_s,
            poll_interval_s=settings.mango.stats_poll_interval_s,
        )
        return await reconcile(pipeline, stats, window)
