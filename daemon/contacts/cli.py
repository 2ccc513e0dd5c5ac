"""``callbridge contacts ...``: lookup, merge, unmerge and the base's hygiene from the command line."""

from __future__ import annotations

import argparse
import csv
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import tzinfo
from functools import partial
from typing import Any, cast

from daemon.contacts import duplicates, hygiene
from daemon.contacts.api import card_json
from daemon.contacts.errors import ContactRefused, UndoConflict
from daemon.contacts.merge import merge_contacts
from daemon.contacts.store import ContactStore
from daemon.contacts.undo import undo_merge
from daemon.domain import readable
from daemon.domain.identifiers import KINDS, Identifier, Kind, parse_identifier
from daemon.domain.phones import format_for_people
from daemon.http.boundary import dumps
from daemon.report.render import csv_safe
from daemon.store.repository import Repository

Command = Callable[[ContactStore, argparse.Namespace], Awaitable[int]]
EXIT_REFUSED = 1
MAX_ID_DIGITS = 18  # a bigint has 19; more is no id of ours


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def register(sub: Any) -> None:
    """Add ``contacts`` and its subcommands to the top-level parser's subparsers."""
    contacts = sub.add_parser("contacts", help="the contact base: lookup, merge, duplicates")
    csub = contacts.add_subparsers(dest="contacts_command", required=True)
    look = csub.add_parser("lookup", help="a contact's card by id, phone (any format), e-mail or messenger id")
    look.add_argument("value", help="a contact id (#12 or 12 with --kind id), a phone, an e-mail, ...")
    look.add_argument("--kind", choices=("id", *KINDS), default=None,
                      help="what VALUE is (default: #ID, an e-mail if it has @, else a phone)")
    look.add_argument("--json", action="store_true", help="the card as GET /api/contacts/{id} answers it")
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
    dupes = csub.add_parser("duplicates", help="candidate duplicates with reason and score")
    dupes.add_argument("--contact", type=int, default=None, help="only those of this contact")
    dupes.add_argument("--limit", type=int, default=100)
    dupes.add_argument("--offset", type=int, default=0, help="skip this many (the next page)")
    dupes.add_argument("--reason", choices=duplicates.REASONS, default=None, help="only candidates of this reason")
    dupes.add_argument("--rebuild", action="store_true",
                       help="first recompute the kept candidates of the whole base (a repair)")
    notdup = csub.add_parser("not-duplicate", help="mark two contacts as not one person (never proposed again)")
    notdup.add_argument("contact_ids", type=int, nargs=2)
    notdup.add_argument("--actor", default=None)
    invalid = csub.add_parser("invalid", help="identifiers that are not valid, with reason and contact")
    invalid.add_argument("--format", choices=("text", "csv"), default="text")
    purge = csub.add_parser("purge", help="remove contacts with no identifier, communication, lead or trip")
    purge.add_argument("--dry-run", action="store_true", help="only list them")
    restore = csub.add_parser("restore", help="bring back a contact purge removed")
    restore.add_argument("contact_id", type=int)
    dnc = csub.add_parser("do-not-call", help="mark a contact «не звонить» (or --lift the mark)")
    dnc.add_argument("contact_id", type=int)
    dnc.add_argument("--reason", default=None)
    dnc.add_argument("--lift", action="store_true")


async def run(repo: Repository, args: argparse.Namespace, *, region: str, tz: tzinfo | None = None) -> int:
    store = ContactStore(repo)
    command: dict[str, Command] = {"lookup": partial(_lookup, region=region), "merge": _merge,
                                   "unmerge": _unmerge, "merges": partial(_merges, tz=tz),
                                   "invalid": _invalid, "purge": _purge, "restore": _restore,
                                   "do-not-call": _do_not_call, "duplicates": _duplicates,
                                   "not-duplicate": _not_duplicate}
    try:
        return await command[args.contacts_command](store, args)
    except ContactRefused as exc:
        print(f"callbridge: contacts {args.contacts_command}: {exc.problem}", file=sys.stderr)
        if isinstance(exc, UndoConflict):
            for row in exc.rows:
                print(f"  changed: {row['table']} {json.dumps(row['key'], ensure_ascii=False)}", file=sys.stderr)
        return EXIT_REFUSED


async def _lookup(store: ContactStore, args: argparse.Namespace, *, region: str) -> int:
    doc = card_json(await store.card(await _contact_id(store, args.value.strip(), args.kind, region)))
    print(dumps(doc) if args.json else "\n".join(_card_lines(doc)))
    return 0


async def _contact_id(store: ContactStore, value: str, kind: str | None, region: str) -> int:
    kind = kind or ("id" if value.startswith("#") else "email" if "@" in value else "phone")
    if kind == "id":
        digits = value.removeprefix("#")
        if not (digits.isascii() and digits.isdigit() and len(digits) <= MAX_ID_DIGITS):
            raise ContactRefused(400, f"{value!r} is not a contact id")
        return int(digits)
    found = parse_identifier(cast(Kind, kind), value, region=region)  # one of KINDS: the parser's choices
    if not isinstance(found, Identifier):
        raise ContactRefused(400, f"{value!r} is not a valid {kind}")
    row = await store.fetchrow("contact_id_by_identifier", found.kind, found.value)
    if row is None:
        raise ContactRefused(404, f"no contact with {kind} {found.value}")
    return int(row["contact_id"])


def _card_lines(doc: dict[str, Any]) -> list[str]:
    """The card for a person at the terminal: only what it has."""
    who = doc["responsible"]
    responsible = None
    if who:
        responsible = (f"{who['name'] or ''} (доб. {who['extension']})".strip() if who["extension"]
                       else f"{who['name']} (добавочный ещё неизвестен)")
    birthday = doc["birthday"] and ".".join(reversed(doc["birthday"].split("-")))
    facts = [("телефоны", ", ".join(format_for_people(p) for p in doc["phones"])),
             ("e-mail", ", ".join(doc["emails"])),
             ("telegram", ", ".join(doc["telegram_ids"])), ("vk", ", ".join(doc["vk_ids"])),
             ("max", ", ".join(doc["max_ids"])), ("avito", ", ".join(doc["avito_ids"])),
             ("instagram", ", ".join(doc["instagram_ids"])),
             ("ответственный", responsible), ("день рождения", birthday), ("комментарий", doc["note"]),
             ("теги", ", ".join(doc["tags"])), ("реклама", doc["ad_source"]),
             ("открытый лид", doc["open_lead_id"] and f"№ {doc['open_lead_id']}")]
    lines = [f"#{doc['id']} {doc['name'] or '—'}"]
    for label, text in facts:
        if text:
            first, *rest = str(text).splitlines()
            lines.append(f"  {label}: {first}")
            lines += [f"    {more}" for more in rest]
    return lines


async def _merge(store: ContactStore, args: argparse.Namespace) -> int:
    result = await store.in_transaction(lambda tx: merge_contacts(
        tx, survivor_id=args.survivor_id, merged_ids=args.merged_ids, actor=args.actor or _actor(),
        reason=args.reason))
    print(f"объединение #{result.merge_id}: {', '.join(f'#{i}' for i in result.merged_ids)} "
          f"в #{result.survivor_id}; перенесено: {moved_text(result.moved)}")
    return 0


async def _unmerge(store: ContactStore, args: argparse.Namespace) -> int:
    result = await store.in_transaction(lambda tx: undo_merge(
        tx, merge_id=args.merge_id, actor=args.actor or _actor(), force=args.force))
    print(f"объединение #{result.merge_id} отменено: {', '.join(f'#{i}' for i in result.restored_ids)} "
          f"снова отдельно от #{result.survivor_id}"
          + (f"; перезаписано изменённых строк: {len(result.forced_rows)}" if result.forced_rows else ""))
    return 0


async def _merges(store: ContactStore, args: argparse.Namespace, *, tz: tzinfo | None = None) -> int:
    """The journal for a person: office time to the minute, what moved, whether it was undone."""
    merges = await store.recent_merges(args.limit)
    for m in merges:
        state = (f"отменено {readable.moment(m['undone_at'], tz)}, {m['undone_by']}" if m["undone_at"]
                 else "действует")
        print(f"#{m['id']} {readable.moment(m['created_at'], tz)} {m['actor']}: "
              f"{', '.join(f'#{i}' for i in m['merged_ids'])} → #{m['survivor_id']} ({state});"
              f" перенесено: {moved_text(m['moved'])}"
              + (f" — {m['reason']}" if m["reason"] else ""))
    if not merges:
        print("объединений ещё не было")
    return 0


MOVED_NAMES = {"communications": "обращений", "leads": "лидов", "identifiers": "идентификаторов",
               "invalid_identifiers": "недействительных идентификаторов", "trips": "поездок"}


def moved_text(moved: dict[str, Any]) -> str:
    """``обращений 3, лидов 1``: what a merge moved, in Russian (unknown kinds by their own name)."""
    parts = [f"{MOVED_NAMES.get(k, k)} {v}" for k, v in moved.items() if v]
    return ", ".join(parts) or "ничего"


async def _invalid(store: ContactStore, args: argparse.Namespace) -> int:
    rows = await hygiene.invalid_identifiers(store)
    if args.format == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(("contact_id", "contact_name", "kind", "value", "reason"))
        # The values are what callers and spreadsheets typed: never a formula for Excel to run.
        writer.writerows((r["contact_id"], csv_safe(r["contact_name"] or ""), r["kind"], csv_safe(r["value"]),
                          csv_safe(r["reason"])) for r in rows)
        return 0
    for r in rows:
        print(f"#{r['contact_id']} {r['contact_name'] or '—'}: {r['kind']} {r['value']!r}: {r['reason']}")
    print(readable.plural(len(rows), "недействительный идентификатор", "недействительных идентификатора",
                          "недействительных идентификаторов"))
    return 0


async def _purge(store: ContactStore, args: argparse.Namespace) -> int:
    result = await hygiene.purge(store, dry_run=args.dry_run)
    verb = "будет убран" if result.dry_run else "убран"
    for r in result.empty:
        print(f"{verb} #{r['id']} {r['name'] or '—'}")
    for r in result.deleted:
        print(f"удалён насовсем #{r['id']} {r['name'] or '—'} (убран больше {hygiene.PURGE_AFTER_DAYS} дней назад)")
    print(f"пустых контактов {'будет убрано' if result.dry_run else 'убрано'}: {len(result.empty)}"
          + ("" if result.dry_run else f"; удалено насовсем: {len(result.deleted)}"))
    return 0


async def _restore(store: ContactStore, args: argparse.Namespace) -> int:
    row = await hygiene.restore(store, args.contact_id)
    print(f"возвращён #{row['id']} {row['name'] or '—'}")
    return 0


async def _do_not_call(store: ContactStore, args: argparse.Namespace) -> int:
    if args.lift:
        answer = await hygiene.lift_do_not_call(store, args.contact_id)
        print(f"#{answer['contact_id']}: отметка «не звонить» снята")
        return 0
    if not args.reason:
        raise ContactRefused(400, "give --reason (or --lift)")
    answer = await hygiene.set_do_not_call(store, args.contact_id, args.reason)
    print(f"#{answer['contact_id']}: не звонить ({answer['do_not_call']['reason']})")
    return 0


async def _duplicates(store: ContactStore, args: argparse.Namespace) -> int:
    if args.limit < 1 or args.offset < 0:
        raise ContactRefused(400, "--limit must be positive and --offset not negative")
    if args.rebuild:
        contacts = await duplicates.rebuild(store)
        print(f"кандидаты пересчитаны для контактов: {contacts}")
    if args.contact is not None:
        page = await duplicates.duplicates_of_contact(store, args.contact, limit=args.limit)
    else:
        page = await duplicates.duplicates(store, limit=args.limit, offset=args.offset, reason=args.reason)
    for c in page.items:
        ids = " ".join(f"#{i}" for i in c.contact_ids)
        print(f"{c.score:.2f} {c.reason:<10} {ids}  {json.dumps(c.evidence, ensure_ascii=False)}")
    partial = page.items and len(page.items) < page.total
    shown = f"{args.offset + 1}–{args.offset + len(page.items)} из " if partial else ""
    print(f"кандидатов в дубликаты: {shown}{page.total}")
    return 0


async def _not_duplicate(store: ContactStore, args: argparse.Namespace) -> int:
    pair = await duplicates.mark_not_duplicates(store, list(args.contact_ids), actor=args.actor or _actor())
    print(f"#{pair[0]} и #{pair[1]}: не дубликаты (больше не предлагаются)")
    return 0
