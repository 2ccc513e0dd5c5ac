"""``callbridge leads archive`` and the other commands of daemon/leads, registered on the main parser."""

from __future__ import annotations

import argparse

import asyncpg

from config.settings import Settings
from daemon.leads.lifecycle import archive_stale
from daemon.leads.tags import refresh_tags


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    leads = sub.add_parser("leads", help="lead lifecycle: archive the stale ones (nightly)")
    leads.add_argument("what", choices=("archive",))
    leads.add_argument("--stale-days", type=int, help="default: the lead_stale_days setting (30)")
    tags = sub.add_parser("tags", help="computed tags: set and remove them (nightly, idempotent)")
    tags.add_argument("what", choices=("refresh",))


async def run(settings: Settings, pool: asyncpg.Pool, args: argparse.Namespace) -> int:
    """Run the parsed command (``callbridge leads|tags …``, ``import trips``, ``report analytics|lost-clients``)."""
    return await HANDLERS[args.command](settings, pool, args)


async def leads_command(settings: Settings, pool: asyncpg.Pool, args: argparse.Namespace) -> int:
    stale_days = args.stale_days or settings.lead_stale_days
    if stale_days < 1:
        raise ValueError("--stale-days must be at least 1")
    archived = await archive_stale(pool, stale_days=stale_days)
    print(f"leads archived: {len(archived)} (no activity for {stale_days} days)")
    return 0


async def tags_command(settings: Settings, pool: asyncpg.Pool, args: argparse.Namespace) -> int:
    report = await refresh_tags(pool, settings)
    print(report.line())
    return 0


HANDLERS = {"leads": leads_command, "tags": tags_command}
# Choices this package adds to the main parser's ``import`` and ``report`` commands.
IMPORTS: tuple[str, ...] = ()
REPORTS: tuple[str, ...] = ()
