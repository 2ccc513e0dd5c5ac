"""Which PostgreSQL a command uses, and its name in one line.

1. ``database_url`` when configured.
2. Else, for a command (not ``run``), the embedded server of a daemon started from
   the same directory (or one above it), if one is running: ``make run`` in a checkout and
   ``.venv/bin/callbridge import contacts FILE`` beside it, with or without
   ``CALLBRIDGE_CONFIG``, use one database. The daemon notes its server in
   ``runtime_dir`` (a file per starting directory, with its pid) while it runs.
3. Else an embedded server under ``state_dir`` (daemon.store.database.embedded_postgres).

Commands that write print ``database: <label>`` first, so a second database is
never opened silently: ``embedded, ./state/postgres`` or ``host:port/name``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import structlog

from config.settings import Settings
from daemon.store.database import embedded_data_dir, embedded_postgres

log = structlog.get_logger(__name__)

DEFAULT_PORT = 5432


@dataclass(frozen=True)
class Database:
    url: str
    label: str  # "embedded, ./state/postgres" or "host:port/name"


@contextlib.contextmanager
def open_database(settings: Settings, *, daemon: bool = False) -> Iterator[Database]:
    """The database to use (see the module docstring); an embedded one lives as long as the block.

    ``daemon``: this is ``callbridge run``; it notes its embedded server for the commands."""
    if settings.database.url:
        yield Database(settings.database.url, describe_url(settings.database.url))
        return
    here = Path.cwd().resolve()
    data_dir = None if daemon else running_daemon_data_dir(settings.runtime_dir, here)
    if data_dir is None:
        data_dir = embedded_data_dir(settings.state_dir)
    else:
        log.debug("using_daemon_database", data_dir=str(data_dir))  # writers print "database: …" anyway
    with embedded_postgres(data_dir) as url:
        database = Database(url, f"embedded, {_shown(data_dir, here)}")
        if not daemon:
            yield database
            return
        with _noted(settings.runtime_dir, here, data_dir):
            yield database


def describe_url(url: str) -> str:
    """``host:port/name`` of a libpq URL (never its user or password)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    host = parts.hostname or (query.get("host") or ["localhost"])[0]
    port = parts.port or int((query.get("port") or [str(DEFAULT_PORT)])[0])
    name = parts.path.lstrip("/") or (query.get("dbname") or [parts.username or "postgres"])[0]
    return f"{host}:{port}/{name}"


def _shown(data_dir: Path, here: Path) -> str:
    try:
        return f"./{data_dir.relative_to(here)}"
    except ValueError:
        return str(data_dir)


def _note_path(runtime_dir: Path, here: Path) -> Path:
    return runtime_dir / f"embedded-{hashlib.sha256(str(here).encode()).hexdigest()[:16]}.json"


def running_daemon_data_dir(runtime_dir: Path, here: Path) -> Path | None:
    """The data directory of the embedded server of a daemon running from ``here`` or a folder above."""
    for folder in (here, *here.parents):
        found = _noted_data_dir(runtime_dir, folder)
        if found is not None:
            return found
    return None


def _noted_data_dir(runtime_dir: Path, here: Path) -> Path | None:
    try:
        note = json.loads(_note_path(runtime_dir, here).read_text())
        pid, data_dir = int(note["pid"]), Path(note["data_dir"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if note.get("cwd") != str(here) or not _alive(pid) or not (data_dir / "postmaster.pid").exists():
        return None
    return data_dir


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive
    return True


@contextlib.contextmanager
def _noted(runtime_dir: Path, here: Path, data_dir: Path) -> Iterator[None]:
    path = _note_path(runtime_dir, here)
    mine = json.dumps({"pid": os.getpid(), "cwd": str(here), "data_dir": str(data_dir)})
    try:
        runtime_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_text(mine)
    except OSError as exc:  # the daemon runs on; commands just cannot find its database
        log.warning("embedded_database_not_noted", path=str(path), error=str(exc))
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            if path.read_text() == mine:
                path.unlink()
