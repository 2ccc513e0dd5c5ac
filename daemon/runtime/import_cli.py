"""``callbridge import contacts|lines FILE [--report FILE] [--dry-run] [--sheet S] [--map COLUMN=field]``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from config.settings import Settings
from daemon.calls.lines import LINE_ALIASES, import_lines
from daemon.contacts.import_rows import CONTACT_ALIASES
from daemon.contacts.importer import import_contacts
from daemon.store.repository import Repository


def register(sub: Any) -> None:
    """Add the ``import`` subcommand to the ``callbridge`` parser's subparsers."""
    imp = sub.add_parser(
        "import", help="import an export (.xlsx, .xls, .ods or .csv)",
        description="Columns are found by their header (Russian or English). Exit code 2: the file "
                    "cannot be read (wrong type, no recognisable column); nothing is written.")
    imp.add_argument("what", choices=("contacts", "lines"))
    imp.add_argument("file", type=Path)
    imp.add_argument("--report", type=Path, metavar="FILE",
                     help="write every row's outcome to this CSV (row, outcome, contact_id, notes)")
    imp.add_argument("--dry-run", action="store_true", help="do everything but commit")
    imp.add_argument("--sheet", help="sheet name or number (default: the first)")
    fields = ", ".join(CONTACT_ALIASES)
    imp.add_argument("--map", action="append", default=[], metavar="COLUMN=FIELD", type=_mapping,
                     help=f"read COLUMN as FIELD (contacts: {fields}; lines: {', '.join(LINE_ALIASES)}); repeatable")


def _mapping(text: str) -> tuple[str, str]:
    column, sep, name = text.rpartition("=")
    if not sep or not column.strip() or not name.strip():
        raise argparse.ArgumentTypeError(f"expected COLUMN=FIELD, got {text!r}")
    return column.strip(), name.strip()


async def run(settings: Settings, repo: Repository, args: argparse.Namespace) -> int:
    mapping = dict(args.map)
    if args.what == "lines":
        lines = await import_lines(repo, args.file, region=settings.default_region, sheet=args.sheet,
                                   mapping=mapping)
        print("\n".join(lines.lines("lines")))
        return 0
    report = await import_contacts(repo, args.file, region=settings.default_region, report_path=args.report,
                                   dry_run=args.dry_run, sheet=args.sheet, mapping=mapping)
    print("\n".join(report.lines("contacts")))
    return 0
