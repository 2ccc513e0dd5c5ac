"""``callbridge report missed``: the report to stdout (the journal), a file, and/or e-mail."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from config.settings import Settings
from daemon.report import RENDERERS, missed_report
from daemon.report.mail import send_report
from daemon.report.window import report_window, resolve
from daemon.store.repository import Repository


@dataclass(frozen=True)
class ReportRequest:
    since: str | None = None
    until: str | None = None
    fmt: str = "text"
    include_all: bool = False
    output: Path | None = None
    email: bool = False


def write_atomically(path: Path, text: str) -> None:
    """A reader of ``path`` sees the old report or the new one, never half of one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


async def report_missed(settings: Settings, repo: Repository, request: ReportRequest) -> int:
    window = resolve(
        lambda end: report_window(settings, end),
        since=request.since,
        until=request.until,
        tz=settings.tz,
        max_days=settings.report.max_window_days,
    )
    report = await missed_report(
        repo, window, tz=settings.tz, include_called_back=request.include_all
    )
    text = RENDERERS[request.fmt](report)
    if request.output is not None:
        write_atomically(request.output, text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    if request.email:
        await send_report(report, settings)
    return 0
