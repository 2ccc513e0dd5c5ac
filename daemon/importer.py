"""Loading the agency's own spreadsheets: contacts (with managers) and lines (ad sources).

Files come from Excel and CRMs: UTF-8 with or without BOM, ``;`` or ``,``
separated, several phones in one cell, phones in any format. A row that
shares a phone or e-mail with an existing contact is merged into it rather
than duplicated; a row that cannot be used is skipped and reported by line.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from daemon.contacts.identifiers import normalise_email
from daemon.phones import line_key, normalise_phone
from daemon.repository import Repository, Tx

CONTACT_COLUMNS = ("name", "phones", "email", "responsible_extension", "tags")
LINE_COLUMNS = ("line_number", "ad_source")
_PHONE_SPLIT = re.compile(r"[,;/\n]+")


class ImportFileError(ValueError):
    """The file as a whole cannot be read (missing columns, not text)."""


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    merged: int = 0
    skipped: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[tuple[int, str]] = field(default_factory=list)

    def lines(self, what: str) -> list[str]:
        out = [
            f"{what}: {self.rows} rows, {self.created} created, {self.merged} merged into existing, "
            f"{len(self.skipped)} skipped"
        ]
        out += [f"  line {n}: skipped: {why}" for n, why in self.skipped]
        out += [f"  line {n}: warning: {why}" for n, why in self.warnings]
        return out


def read_rows(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (line number, row) with the named columns; the header names them."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    header = text.split("\n", 1)[0]
    delimiter = ";" if header.count(";") >= header.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    found = [(name or "").strip().lower() for name in reader.fieldnames or []]
    missing = [c for c in columns if c not in found]
    if missing:
        raise ImportFileError(f"{path}: missing column(s) {', '.join(missing)}; header is {header!r}")
    reader.fieldnames = found
    first_line = reader.line_num + 1
    for row in reader:
        # A quoted cell may hold line breaks: report the row by the line it starts on.
        values = {c: (row.get(c) or "").strip() for c in columns}
        if any(values.values()):
            yield first_line, values
        first_line = reader.line_num + 1


@dataclass(frozen=True)
class ContactRow:
    name: str | None
    phones: tuple[str, ...]
    email: str | None
    responsible_extension: str | None
    tags: tuple[str, ...]


def parse_contact_row(values: dict[str, str], region: str) -> tuple[ContactRow | None, list[str]]:
    """The row as clean values, with warnings; None when nothing identifies the person."""
    warnings: list[str] = []
    phones: list[str] = []
    for part in _PHONE_SPLIT.split(values["phones"]):
        if not part.strip():
            continue
        phone = normalise_phone(part, region)
        if phone is None:
            warnings.append(f"not a valid phone number: {part.strip()!r}")
        elif phone not in phones:
            phones.append(phone)
    email = normalise_email(values["email"])
    if values["email"].strip() and email is None:
        warnings.append(f"not a valid e-mail: {values['email'].strip()!r}")
    extension = values["responsible_extension"] or None
    if extension and not extension.isdigit():
        warnings.append(f"responsible_extension is not an extension number: {extension!r}")
        extension = None
    tags = tuple(dict.fromkeys(t.strip() for t in values["tags"].split(",") if t.strip()))
    if not phones and not email:
        return None, warnings + ["no valid phone or e-mail"]
    row = ContactRow(values["name"] or None, tuple(phones), email, extension, tags)
    return row, warnings


async def _merge_contact(tx: Tx, row: ContactRow) -> tuple[bool, list[str]]:
    """Create or merge one contact. Returns (created, warnings)."""
    warnings: list[str] = []
    for phone in sorted(row.phones):  # the pipeline takes the same locks for unknown callers
        await tx.lock(f"phone:{phone}")
    owners = [await tx.contact_id_by_phone(p) for p in row.phones]
    if row.email:
        owners.append(await tx.contact_id_by_identifier("email", row.email))
    existing = sorted({o for o in owners if o is not None})
    responsible_id = await tx.manager_id(row.responsible_extension) if row.responsible_extension else None
    if existing:
        contact_id = existing[0]
        if len(existing) > 1:
            warnings.append(f"matches several contacts {existing}; merged into {contact_id}")
        await tx.update_imported_contact(contact_id, name=row.name, responsible_id=responsible_id, tags=row.tags)
    else:
        contact_id = await tx.insert_contact(name=row.name, responsible_id=responsible_id, tags=row.tags)
    for phone in row.phones:
        owner = await tx.add_identifier("phone", phone, contact_id)
        if owner != contact_id:
            warnings.append(f"phone {phone} stays with contact {owner}")
    if row.email:
        owner = await tx.add_identifier("email", row.email, contact_id)
        if owner != contact_id:
            warnings.append(f"e-mail {row.email} stays with contact {owner}")
    return not existing, warnings


async def import_contacts(repo: Repository, path: Path, *, region: str) -> ImportReport:
    """Import a contacts CSV in one transaction: all of its usable rows or nothing."""
    report = ImportReport()
    rows = list(read_rows(path, CONTACT_COLUMNS))  # file errors before any database work
    async with repo.transaction() as tx:
        for line, values in rows:
            report.rows += 1
            row, warnings = parse_contact_row(values, region)
            if row is None:
                report.skipped.append((line, "; ".join(warnings)))
                continue
            created, merge_warnings = await _merge_contact(tx, row)
            report.warnings += [(line, w) for w in warnings + merge_warnings]
            if created:
                report.created += 1
            else:
                report.merged += 1
    return report


async def import_lines(repo: Repository, path: Path, *, region: str) -> ImportReport:
    """Import ``line_number;ad_source`` rows; a line already known gets the new ad source."""
    report = ImportReport()
    rows = list(read_rows(path, LINE_COLUMNS))  # file errors before any database work
    async with repo.transaction() as tx:
        for line, values in rows:
            report.rows += 1
            key = line_key(values["line_number"], region)
            if key is None or not values["ad_source"]:
                report.skipped.append((line, "line_number and ad_source are both required"))
                continue
            known = await tx.ad_source_for_line(key)
            await tx.upsert_line(key, values["line_number"], values["ad_source"])
            if known is None:
                report.created += 1
            else:
                report.merged += 1
    return report
