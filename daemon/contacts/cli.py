"""``callbridge contacts ...``: merge, unmerge and the base's hygiene from the command line."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from daemon.contacts.errors import ContactRefused, UndoConflict
from daemon.contacts.merge import merge_contacts
from daemon.contacts.store import ContactStore
from daemon.contacts.undo import undo_merge
from daemon.repository import Repository

Command = Callable[[ContactStore, argparse.Namespace], Awaitable[int]]
EXIT_REFUSED = 1


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def register(sub: Any) -> None:
    """Add ``contacts`` and its subcommands to the top-level parser's subparsers."""
    contacts = sub.add_parser("contacts", help="the contact base: merge, duplicates, hygiene")
    csub = contacts.add_subparsers(dest="contacts_command", required=True)
    merge = csub.add_parser("merge", help="merge contacts into the first one (journaled, undoable)")
    merge.add_argument("survivor_id", type=int)
    merge.add_argument("merged_ids", type=int, nargs="+")
    merge.add_argument("--reason", default="", help="why (kept in the journal)")
    merge.add_argument("--actor", default=None, help="who (default: cli:<user>)")
    unmerge = csub.add_parser("unmerge", help="undo a merge by its id")
    unmerge.add_argument("merge_id", type=int)
    unmerge.add_argument("--force", action="store_true", help="overwrite rows changed since the merge")
    unmerge.add_argument("--actor", default=None)
    merges = csub.add_parser("merges", help="the journal of recent merges")
    merges.add_argument("--limit", type=int, default=20)
    for extra in _EXTRA_REGISTRARS:
        extra(csub)


_EXTRA_REGISTRARS: list[Callable[[Any], None]] = []
_EXTRA_COMMANDS: dict[str, Command] = {}


async def run(repo: Repository, args: argparse.Namespace) -> int:
    store = ContactStore(repo)
    command = {"merge": _merge, "unmerge": _unmerge, "merges": _merges} | _EXTRA_COMMANDS
    try:
        return await command[args.contacts_command](store, args)
    except ContactRefused as exc:
        print(f"callbridge: contacts {args.contacts_command}: {exc.problem}", file=sys.stderr)
        if isinstance(exc, UndoConflict):
            for row in exc.rows:
                print(f"  changed: {row['table']} {json.dumps(row['key'], ensure_ascii=False)}", file=sys.stderr)
        return EXIT_REFUSED


async def _merge(store: ContactStore, args: argparse.Namespace) -> int:
    result = await store.in_transaction(lambda tx: merge_contacts(
        tx, survivor_id=args.survivor_id, merged_ids=args.merged_ids, actor=args.actor or _actor(),
        reason=args.reason))
    moved = ", ".join(f"{k} {v}" for k, v in result.moved.items())
    print(f"merge #{result.merge_id}: {', '.join(f'#{i}' for i in result.merged_ids)} "
          f"into #{result.survivor_id}; moved {moved}")
    return 0


async def _unmerge(store: ContactStore, args: argparse.Namespace) -> int:
    result = await store.in_transaction(lambda tx: undo_merge(
        tx, merge_id=args.merge_id, actor=args.actor or _actor(), force=args.force))
    print(f"merge #{result.merge_id} undone: {', '.join(f'#{i}' for i in result.restored_ids)} "
          f"restored beside #{result.survivor_id}"
          + (f"; {len(result.forced_rows)} changed rows overwritten" if result.forced_rows else ""))
    return 0


async def _merges(store: ContactStore, args: argparse.Namespace) -> int:
    for m in await store.recent_merges(args.limit):
        state = f"undone {m['undone_at']:%Y-%m-%d %H:%M} by {m['undone_by']}" if m["undone_at"] else "active"
        print(f"#{m['id']} {m['created_at']:%Y-%m-%d %H:%M} {m['actor']}: "
              f"{', '.join(f'#{i}' for i in m['merged_ids'])} -> #{m['survivor_id']} ({state})"
              + (f" — {m['reason']}" if m["reason"] else ""))
    return 0
