"""The ``callbridge`` command: the daemon and every job around it, one subcommand each."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

import aiohttp
import asyncpg

from adapters.mango.client import MangoClient, PbxApiError
from adapters.mango.replay import load_steps, replay
from config.settings import Settings, SettingsError, load_settings
from daemon.calls.lines import ImportFileError
from daemon.calls.managers import sync_managers
from daemon.calls.reconcile import reconcile_command
from daemon.contacts import cli as contacts_cli
from daemon.domain.errors import CallbridgeError
from daemon.intake.pipeline import Pipeline
from daemon.leads import cli as leads_cli
from daemon.report import FORMATS
from daemon.report.command import ReportRequest, report_missed
from daemon.runtime import health, import_cli
from daemon.runtime.logs import configure_logging
from daemon.runtime.process import run as run_daemon
from daemon.store import migrate as migrations
from daemon.store import retention
from daemon.store.choice import open_database
from daemon.store.database import connect_with_retries, create_pool, translate
from daemon.store.repository import Repository

T = TypeVar("T")
# Commands that change the base; the others (report, check, contacts merges|duplicates|invalid) only read.
WRITERS = frozenset({"migrate", "import", "sync-managers", "reconcile", "prune", *leads_cli.HANDLERS})
CONTACTS_WRITERS = frozenset({"merge", "unmerge", "not-duplicate", "purge", "restore", "do-not-call"})
EXIT_USAGE = 2
HELP_COLUMN = 30  # "    sync-managers" and two spaces
DESCRIPTION = ("callbridge joins the agency's Mango Office PBX and its other channels to the CRM base "
               "in PostgreSQL. Settings: CALLBRIDGE_CONFIG=file.toml and CALLBRIDGE_* variables.")
EXIT_FAILURE = 1


class _OneLineHelp(argparse.HelpFormatter):
    """Room for the longest command name, so that each command's help stays on its one line."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=HELP_COLUMN)
        # argparse measures the commands before the group's indent is added: the longest wrapped.
        self._action_max_length = HELP_COLUMN - 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="callbridge", description=DESCRIPTION, formatter_class=_OneLineHelp)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", title="commands")
    sub.add_parser("run", help="run the daemon (embedded PostgreSQL if none set)")
    sub.add_parser("migrate", help="apply pending database migrations")
    import_cli.register(sub)
    leads_cli.register_imports(sub.choices["import"])
    sub.add_parser("sync-managers", help="load employees and extensions from the PBX")
    rep = sub.add_parser("replay", help="post a file's PBX events, signed, to the daemon")
    rep.add_argument("files", type=Path, nargs="+")
    rep.add_argument("--url", help="webhook base (default: http://<listen><mango_prefix>)")
    report = sub.add_parser("report", help="reports: missed, analytics, lost-clients")
    report.add_argument("what", choices=("missed", *leads_cli.REPORTS))
    report.add_argument("--since", help="ISO 8601, office time if no offset (default: report_lookback_days "
                                        "back, the night's callers first)")
    report.add_argument("--until", help="ISO 8601 (default: now)")
    report.add_argument("--format", choices=FORMATS, default="text")
    report.add_argument("--all", action="store_true", help="keep callers called back since")
    report.add_argument("--output", type=Path, help="write to this file instead of stdout")
    report.add_argument("--email", action="store_true", help="also e-mail it (smtp_* settings)")
    leads_cli.register_report_options(report)
    rec = sub.add_parser("reconcile", help="fill in calls the PBX never delivered")
    rec.add_argument("--since", help="ISO 8601 (default: the start of yesterday, office time)")
    rec.add_argument("--until", help="ISO 8601 (default: now)")
    leads_cli.register(sub)
    prn = sub.add_parser("prune", help="delete raw PBX events past inbox_retention_days")
    prn.add_argument("--older-than-days", type=int, help="override inbox_retention_days (at least 1)")
    contacts_cli.register(sub)
    chk = sub.add_parser("check", help="ask the daemon's /health (exit code: its answer)")
    chk.add_argument("--url", help="health URL (default: http://<listen>/health)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    started = time.monotonic()
    try:
        settings = load_settings()
        configure_logging(level=settings.log.level, fmt=settings.log.format,
                          secrets=health.secrets_of(settings))
        if args.command == "run":
            settings.require("mango_api_key", "mango_api_salt", "api_token")
            with open_database(settings, daemon=True) as database:
                return run_daemon(settings, database_url=database.url)
        if args.command == "replay":
            return asyncio.run(_replay(settings, args))
        if args.command == "check":
            return asyncio.run(_check(settings, args))
        with open_database(settings) as database:
            if _writes(args):
                print(f"database: {database.label}", flush=True)
            return asyncio.run(_COMMANDS[args.command](settings, database.url, args))
    except SettingsError as exc:
        print(f"callbridge: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ImportFileError as exc:  # a file we cannot read: the user's to fix, nothing was written
        print(f"callbridge: {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
        # A database error no command translated: the same one line as the daemon's answer
        # ("query timeout after 5 s (query NAME)"), never a traceback or an empty TimeoutError().
        ours = translate(exc, started=started)
        if ours is None:
            raise
        print(f"callbridge: {args.command}: {ours}", file=sys.stderr)
        return EXIT_FAILURE
    except (CallbridgeError, PbxApiError, ValueError, OSError,
            aiohttp.ClientError) as exc:
        print(f"callbridge: {args.command}: {exc}", file=sys.stderr)
        return EXIT_FAILURE


def _writes(args: argparse.Namespace) -> bool:
    """Whether the command changes the base (and so names the database it writes to first)."""
    if args.command == "contacts":
        return args.contacts_command in CONTACTS_WRITERS
    return args.command in WRITERS


async def _with_repo(settings: Settings, url: str, job: Callable[[Repository], Awaitable[T]]) -> T:
    pool = await create_pool(settings, url, attempts=3)
    try:
        async with pool.acquire() as conn:
            await migrations.migrate(conn)
        return await job(Repository(pool))
    finally:
        await pool.close()


async def _migrate(settings: Settings, url: str, args: argparse.Namespace) -> int:
    conn: asyncpg.Connection = await connect_with_retries(url, attempts=3)
    try:
        applied = await migrations.migrate(conn)
    finally:
        await conn.close()
    names = ", ".join(f"{m.version:04d}_{m.name}" for m in applied) or "нет (схема актуальна)"
    print(f"применены миграции: {names}")
    return 0


async def _import(settings: Settings, url: str, args: argparse.Namespace) -> int:
    if args.what in leads_cli.IMPORTS:
        return await _leads(settings, url, args)
    return await _with_repo(settings, url, lambda repo: import_cli.run(settings, repo, args))


async def _sync_managers(settings: Settings, url: str, args: argparse.Namespace) -> int:
    settings.require("mango_api_key", "mango_api_salt")
    async with aiohttp.ClientSession() as session:
        client = MangoClient(session, base_url=settings.mango.api_url,
                             api_key=settings.secret("mango_api_key"),
                             api_salt=settings.secret("mango_api_salt"),
                             timeout_s=settings.mango.request_timeout_s)
        employees = await client.employees()
    report = await _with_repo(settings, url, lambda repo: sync_managers(repo, employees))
    print(report.line())
    return 0


async def _replay(settings: Settings, args: argparse.Namespace) -> int:
    settings.require("mango_api_key", "mango_api_salt")
    url = args.url or f"http://{settings.http.listen}{settings.mango.prefix}"
    failures = 0
    for path in args.files:
        failures += await replay(url, load_steps(path), api_key=settings.secret("mango_api_key"),
                                 api_salt=settings.secret("mango_api_salt"))
    return EXIT_FAILURE if failures else 0


async def _report(settings: Settings, url: str, args: argparse.Namespace) -> int:
    if args.what in leads_cli.REPORTS:
        return await _leads(settings, url, args)
    if args.format not in FORMATS:
        raise ValueError(f"report {args.what} has no format {args.format}")
    request = ReportRequest(since=args.since, until=args.until, fmt=args.format,
                            include_all=args.all, output=args.output, email=args.email)
    return await _with_repo(settings, url, lambda repo: report_missed(settings, repo, request))


async def _reconcile(settings: Settings, url: str, args: argparse.Namespace) -> int:
    async def job(repo: Repository) -> int:
        pipeline = Pipeline(repo, region=settings.default_region,
                            lead_stale_days=lambda: settings.leads.stale_days)
        report = await reconcile_command(settings, pipeline, since=args.since, until=args.until)
        print("\n".join(report.lines()))
        return 0 if report.ok else EXIT_FAILURE

    return await _with_repo(settings, url, job)


async def _leads(settings: Settings, url: str, args: argparse.Namespace) -> int:
    return await _with_repo(settings, url, lambda repo: leads_cli.run(settings, repo.pool, args))


async def _prune(settings: Settings, url: str, args: argparse.Namespace) -> int:
    days = args.older_than_days if args.older_than_days is not None else settings.retention.inbox_days
    if days == 0 and args.older_than_days is None:
        print("inbox_retention_days = 0: сырые события хранятся всегда, ничего не удалено")
        return 0
    if days < 1:
        print("callbridge: prune: --older-than-days must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    cutoff = retention.cutoff_for(days)
    report = await _with_repo(settings, url, lambda repo: retention.prune_inbox(
        repo.pool, cutoff=cutoff, batch=settings.retention.prune_batch))
    print(report.line(settings.tz))
    return 0


async def _check(settings: Settings, args: argparse.Namespace) -> int:
    doc = await health.fetch_health(args.url or health.local_health_url(settings))
    print(json.dumps(doc, ensure_ascii=False, indent=2))
    return health.check_exit_code(doc)


_COMMANDS = {"migrate": _migrate, "import": _import, "sync-managers": _sync_managers,
             "report": _report, "reconcile": _reconcile, "prune": _prune,
             "contacts": lambda s, u, a: _with_repo(
                 s, u, lambda repo: contacts_cli.run(repo, a, region=s.default_region, tz=s.tz)),
             **dict.fromkeys(leads_cli.HANDLERS, _leads)}


if __name__ == "__main__":
    sys.exit(main())
