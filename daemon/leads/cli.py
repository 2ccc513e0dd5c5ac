"""``callbridge leads archive`` and the other commands of daemon/leads, registered on the main parser."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import asyncpg

from config.settings import Settings
from daemon.contacts.score import refresh_all
from daemon.leads import lost, trips
from daemon.leads.analytics import GROUPINGS, analytics
from daemon.leads.analytics_api import window
from daemon.leads.closing import archive_stale
from daemon.leads.funnel import advance
from daemon.leads.reminders import refresh_tasks
from daemon.leads.render import render_csv, render_html, render_json, render_text
from daemon.leads.rung import analytics_for_people
from daemon.leads.tags import refresh_tags
from daemon.routing.policy import OfficeHours


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    leads = sub.add_parser("leads", help="archive the stale leads (nightly)")
    leads.add_argument("what", choices=("archive",))
    leads.add_argument("--stale-days", type=int, help="default: the lead_stale_days setting (30)")
    tags = sub.add_parser("tags", help="refresh the computed tags (nightly)")
    tags.add_argument("what", choices=("refresh",))
    tasks = sub.add_parser("tasks", help="reminders: birthdays, after the trip, next season (nightly, idempotent)")
    tasks.add_argument("what", choices=("refresh",))
    scores = sub.add_parser("scores", help="every contact's score, and the funnel's trips (nightly)")
    scores.add_argument("what", choices=("refresh",))


def register_imports(imp: argparse.ArgumentParser) -> None:
    """``import trips`` beside the contact import's choices (daemon/runtime/import_cli.py)."""
    for action in imp._actions:
        if action.dest == "what" and action.choices is not None:
            action.choices = (*action.choices, *IMPORTS)


def register_report_options(report: argparse.ArgumentParser) -> None:
    """Options of ``report analytics`` and ``report lost-clients`` on the main ``report`` parser."""
    report.add_argument("--by", choices=GROUPINGS, default="ad_source", help="analytics: group by")
    report.add_argument("--assign", action="append", metavar="EXT",
                        help="lost-clients: spread them over these managers (repeat, or 105,106)")
    for action in report._actions:  # lost-clients also writes the callers' spreadsheet
        if action.dest == "format" and action.choices is not None and "xlsx" not in action.choices:
            action.choices = (*action.choices, "xlsx")


async def run(settings: Settings, pool: asyncpg.Pool, args: argparse.Namespace) -> int:
    """Run the parsed command (``callbridge leads|tags …``, ``import trips``, ``report analytics|lost-clients``)."""
    if args.command == "report":
        return await report_command(settings, pool, args)
    if args.command == "import":
        report = await trips.import_trips(pool, args.file, settings, sheet=getattr(args, "sheet", None))
        print("\n".join(report.lines()))
        return 0
    return await HANDLERS[args.command](settings, pool, args)


async def leads_command(settings: Settings, pool: asyncpg.Pool, args: argparse.Namespace) -> int:
    stale_days = args.stale_days or settings.leads.stale_days
    if stale_days < 1:
        raise ValueError("--stale-days must be at least 1")
    archived = await archive_stale(pool, stale_days=stale_days)
    print(f"лидов в архив: {len(archived)} (без движения {stale_days} дн.)")
    return 0


async def tags_command(settings: Settings, pool: asyncpg.Pool, args: argparse.Namespace) -> int:
    report = await refresh_tags(pool, settings)
    print(report.line())
    return 0


async def tasks_command(settings: Settings, pool: asyncpg.Pool, args: argparse.Namespace) -> int:
    print((await refresh_tasks(pool, settings)).line())
    return 0


async def scores_command(settings: Settings, pool: asyncpg.Pool, args: argparse.Namespace) -> int:
    moved = await advance(pool, settings.funnel, timezone=settings.timezone)
    print(f"funnel: {moved} leads moved by their bookings and trips")
    print((await refresh_all(pool, settings)).line())
    return 0


async def analytics_report(settings: Settings, pool: asyncpg.Pool, args: argparse.Namespace) -> int:
    if args.format not in ("text", "csv", "json", "html"):
        raise ValueError(f"report analytics has no {args.format} format; use text, csv, json or html")
    since, until = window(args.since, args.until, settings)
    hours = OfficeHours.from_settings(settings)
    result = await analytics_for_people(pool, since=since, until=until, by=args.by, hours=hours, sla=settings.sla)
    if args.format == "html":
        days = await analytics(pool, since=since, until=until, by="day", hours=hours, sla=settings.sla)
        text = render_html(result, daily_rows=days.rows)
    else:
        text = {"text": render_text, "csv": render_csv, "json": render_json}[args.format](result)
    _write(text, args.output)
    return 0


def _write(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")


async def lost_clients_report(settings: Settings, pool: asyncpg.Pool, args: argparse.Namespace) -> int:
    rows = await lost.lost_clients(pool, settings)
    if args.assign:
        await lost.assign(pool, rows, [e for text in args.assign for e in text.split(",")])
    if args.format == "xlsx":
        if args.output is None:
            raise ValueError("--format xlsx needs --output FILE")
        args.output.write_bytes(lost.render_xlsx(rows))
        return 0
    if args.format == "html":
        raise ValueError("report lost-clients has no html format; use text, csv, xlsx or json")
    if args.format == "text":
        _write(lost.render_text(rows, settings.tz), args.output)
        return 0
    render = {"csv": lost.render_csv, "json": lost.render_json}[args.format]
    _write(render(rows), args.output)
    return 0


async def report_command(settings: Settings, pool: asyncpg.Pool, args: argparse.Namespace) -> int:
    return await REPORT_HANDLERS[args.what](settings, pool, args)


HANDLERS = {"leads": leads_command, "tags": tags_command, "tasks": tasks_command, "scores": scores_command}
# Choices this package adds to the main parser's ``import`` and ``report`` commands.
IMPORTS = ("trips",)
REPORT_HANDLERS = {"analytics": analytics_report, "lost-clients": lost_clients_report}
REPORTS = tuple(REPORT_HANDLERS)
