"""``python -m bench.contacts_import [--rows 100000] [--existing 0.2]``: time and memory of
``callbridge import contacts`` on a messy .xlsx export (bench/contacts_import/files.py).

A database of its own (``callbridge_bench_import_<pid>``, dropped at the end) on the
PostgreSQL at 127.0.0.1:5432; optionally a base of existing contacts holding a share of
the file's phones; then the real console script, in its own process, twice: the first
import, and the same file again (which must create and update nothing). Wall time and the
child's peak RSS (``wait4``) are measured; a Markdown summary is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bench.contacts_import.files import phone_digits, write_export
from bench.suite.machine import describe
from daemon.store import migrate

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
TARGET_S = 60.0
TARGET_RSS_MB = 300.0


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.contacts_import", description=__doc__)
    p.add_argument("--server", default=os.environ.get("CALLBRIDGE_BENCH_SERVER_URL", DEFAULT_SERVER))
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--existing", type=float, default=0.2,
                   help="share of the file's people already in the base, by their mobile phone")
    p.add_argument("--file", type=Path, help="reuse (or keep) the generated .xlsx here")
    return p.parse_args(argv)


def _with_db(url: str, db: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))


async def _preload(conn: asyncpg.Connection, rows: int, share: float) -> int:
    """Existing contacts for every k-th person of the file, by COPY (unnamed: the import fills names)."""
    step = max(1, round(1 / share)) if share > 0 else 0
    if not step:
        return 0
    people = list(range(0, rows, step))
    await conn.copy_records_to_table("contacts", columns=("id", "ad_source"),
                                     records=[(i + 1, "Avito") for i in range(len(people))])
    await conn.copy_records_to_table("contact_identifiers", columns=("kind", "value", "contact_id"),
                                     records=[("phone", "+7" + phone_digits(p), i + 1) for i, p in enumerate(people)])
    await conn.execute("SELECT setval('contacts_id_seq', $1)", len(people))
    await conn.execute("ANALYZE contacts; ANALYZE contact_identifiers")
    return len(people)


def _run_import(path: Path, url: str, report: Path) -> tuple[float, float, str, dict[str, float]]:
    """The console script in its own process: (seconds, peak RSS in MB, its summary line, phase times)."""
    script = Path(sys.executable).with_name("callbridge")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLBRIDGE_")}
    env.update(CALLBRIDGE_DATABASE_URL=url, CALLBRIDGE_LOG_LEVEL="info", CALLBRIDGE_LOG_FORMAT="json")
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([str(script), "import", "contacts", str(path), "--report", str(report)],
                                env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
        out.seek(0)
        err.seek(0)
        text, log = out.read().decode(), err.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"import failed ({os.waitstatus_to_exitcode(status)}):\n{text}{log[-3000:]}")
    phases = {}
    for line in log.splitlines():
        with contextlib.suppress(ValueError):
            event = json.loads(line)
            if event.get("event") in ("import_staged", "import_grouped", "import_applied"):
                phases[event["event"].removeprefix("import_")] = event["seconds"]
    return elapsed, usage.ru_maxrss / 1024, text.splitlines()[0], phases


def _outcomes(report: Path) -> Counter[str]:
    with report.open(encoding="utf-8-sig", newline="") as handle:
        return Counter(row["outcome"].split(" ")[0].rstrip(":") for row in csv.DictReader(handle))


async def main(argv: list[str] | None = None) -> int:
    args = _args(argv)
    work = Path(tempfile.mkdtemp(prefix="callbridge-bench-import-"))
    path = args.file or work / f"export-{args.rows}.xlsx"
    if not path.exists():
        started = time.perf_counter()
        write_export(path, args.rows)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - started:.1f} s",
              file=sys.stderr)
    db = f"callbridge_bench_import_{os.getpid()}"
    admin = await asyncpg.connect(args.server)
    await admin.execute(f'CREATE DATABASE "{db}"')
    try:
        url = _with_db(args.server, db)
        conn = await asyncpg.connect(url)
        try:
            await migrate.migrate(conn)
            existing = await _preload(conn, args.rows, args.existing)
            machine = await describe(conn)
            first = _run_import(path, url, work / "first.csv")
            second = _run_import(path, url, work / "second.csv")
            totals = {t: await conn.fetchval(f"SELECT count(*) FROM {t}")
                      for t in ("contacts", "contact_identifiers", "contact_invalid_identifiers")}
        finally:
            await conn.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()
    print(_markdown(args, machine, existing, path, first, second, totals,
                    _outcomes(work / "first.csv"), _outcomes(work / "second.csv")))
    return 0


def _markdown(args: argparse.Namespace, machine: dict[str, str], existing: int, path: Path,
              first: tuple[float, float, str, dict[str, float]],
              second: tuple[float, float, str, dict[str, float]], totals: dict[str, int],
              first_outcomes: Counter[str], second_outcomes: Counter[str]) -> str:
    def verdict(seconds: float, rss: float) -> str:
        ok = seconds <= TARGET_S and rss <= TARGET_RSS_MB
        return "meets" if ok else "misses"

    machine_line = (f"Machine: {machine['cpus']}, {machine['memory']} RAM; PostgreSQL {machine['postgresql']}; "
                    f"Python {machine['python']}; load before the run {machine['load_before']}; {machine['date']}.")
    file_line = (f"File: {args.rows:,} rows, {path.stat().st_size / 1e6:.1f} MB .xlsx; base before the import: "
                 f"{existing:,} contacts holding some of its phones.")

    def run_line(name: str, run: tuple[float, float, str, dict[str, float]], outcomes: Counter[str]) -> str:
        counted = ", ".join(f"{k} {v:,}" for k, v in sorted(outcomes.items()))
        phases = " / ".join(f"{v:.0f}" for v in run[3].values())
        return (f"| {name} | {run[0]:.1f} s | {phases} s | {run[1]:.0f} MB | {counted} | "
                f"{verdict(run[0], run[1])} |")

    return "\n".join([
        machine_line, "", file_line, "",
        "| run | wall time | staged / grouped / applied (cumulative) | peak RSS | outcomes | vs target (60 s, 300 MB) |",
        "|---|---|---|---|---|---|",
        run_line("first import", first, first_outcomes),
        run_line("same file again", second, second_outcomes),
        "",
        f"After: {', '.join(f'{k} {v:,}' for k, v in totals.items())}.",
        f"First run said: `{first[2]}`; second: `{second[2]}`.",
    ])


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
