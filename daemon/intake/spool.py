"""The local spool: where an accepted event waits while PostgreSQL is away.

Append-only segment files in the state directory. Each record is
``MAGIC | length | crc32 | payload`` and is fsynced before the PBX gets its
200. A record that fails its checksum (a torn write after a power cut) is
skipped with a warning; the reader then looks for the next MAGIC, so one bad
record never hides the ones after it. Segments are replayed oldest first and
deleted once every record in them has been applied.

One spool, one process: the directory is locked (``flock`` on ``spool.lock``)
for as long as the spool is open. A second daemon on the same state directory
would replay, and delete, segments the first is still writing; it stops at
start-up instead (``SpoolLocked``). The kernel drops the lock when the process
dies, however it dies.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import struct
import threading
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

import structlog

from daemon.domain.errors import CallbridgeError

log = structlog.get_logger(__name__)

MAGIC = b"CBS1"
HEADER = struct.Struct(">4sII")  # magic, payload length, crc32 of payload
MAX_RECORD_BYTES = 1024 * 1024
SEGMENT_MAX_BYTES = 4 * 1024 * 1024
SEGMENT_GLOB = "seg-*.spool"
LOCK_FILE = "spool.lock"
SkipHook = Callable[[int, bytes, str], None]
REJECTED_DIR = "rejected"


class SpoolLocked(CallbridgeError):
    """Another process holds this spool directory."""


def _segment_name(number: int) -> str:
    return f"seg-{number:020d}.spool"


def _segment_number(path: Path) -> int:
    return int(path.stem.removeprefix("seg-"))


def read_records(path: Path, on_skip: SkipHook | None = None) -> Iterator[bytes]:
    """Yield the valid payloads of one segment, skipping (and logging) corrupt stretches.

    Each skipped stretch runs to the next MAGIC; ``on_skip(offset, stretch, why)``
    is told of it (the replayer quarantines it: an acknowledged record may be in it).
    """
    data = path.read_bytes()

    def skip(start: int, why: str) -> int:
        nxt = data.find(MAGIC, start + 1)
        end = nxt if nxt >= 0 else len(data)
        log.warning("spool_bytes_skipped", segment=path.name, offset=start, skipped=end - start, why=why)
        if on_skip is not None:
            on_skip(start, data[start:end], why)
        return end

    pos = 0
    while pos < len(data):
        if data[pos:pos + 4] != MAGIC:
            pos = skip(pos, "no record starts here")
            continue
        if pos + HEADER.size > len(data):
            skip(pos, "torn record header")
            return
        _, length, crc = HEADER.unpack_from(data, pos)
        start, end = pos + HEADER.size, pos + HEADER.size + length
        payload = data[start:end]
        if length > MAX_RECORD_BYTES or end > len(data) or zlib.crc32(payload) != crc:
            pos = skip(pos, "torn record" if end > len(data) else "checksum or length wrong")
            continue
        yield payload
        pos = end


def _record(payload: bytes) -> bytes:
    if len(payload) > MAX_RECORD_BYTES:
        raise ValueError(f"spool record of {len(payload)} bytes exceeds {MAX_RECORD_BYTES}")
    return HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


def _count_records(path: Path) -> int:
    """Records of a segment; 0 for one that cannot be read (the replayer quarantines it)."""
    try:
        return sum(1 for _ in read_records(path))
    except OSError as exc:
        log.error("spool_segment_unreadable", segment=path.name, error=f"{type(exc).__name__}: {exc}")
        return 0


class Spool:
    """Durable FIFO of event payloads on local disk. Thread-safe appends, one writer thread."""

    def __init__(self, directory: Path, *, segment_max_bytes: int = SEGMENT_MAX_BYTES) -> None:
        self.directory = directory
        self._segment_max = segment_max_bytes
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spool-writer")
        self._file: BinaryIO | None = None
        self._file_path: Path | None = None
        self._writable = True
        self._waiting: list[tuple[bytes, asyncio.Future[None]]] = []  # appends for the next group fsync
        self._writing: asyncio.Future[None] | None = None
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock_fd: int | None = _lock_directory(directory)
        existing = self.segments()
        self._next_number = (_segment_number(existing[-1]) + 1) if existing else 1
        self._backlog = sum(_count_records(p) for p in existing)
        if self._backlog:
            log.info("spool_backlog_found", records=self._backlog, segments=len(existing))

    # -- state -------------------------------------------------------------
    def backlog(self) -> int:
        """Records waiting to be replayed."""
        return self._backlog

    def writable(self) -> bool:
        """False after an append failed, until one succeeds again."""
        return self._writable

    def segments(self) -> list[Path]:
        return sorted(self.directory.glob(SEGMENT_GLOB), key=_segment_number)

    # -- writing -------------------------------------------------------------
    async def append(self, payload: bytes) -> None:
        """Append and fsync one record; returns once it is on disk. Raises OSError (ValueError: too big).

        Group fsync: the records that arrive while a write is on its way go
        together in the next one, with one fsync for all of them.
        """
        record = _record(payload)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((record, future))
        self._write_waiting()
        await future

    def _write_waiting(self) -> None:
        """Hand every waiting record to the writer thread, unless a write is on its way."""
        if self._writing is not None or not self._waiting:
            return
        batch, self._waiting = self._waiting, []
        self._writing = asyncio.get_running_loop().run_in_executor(
            self._executor, self._write_records, [record for record, _ in batch])
        self._writing.add_done_callback(lambda done: self._written(batch, done))

    def _written(self, batch: list[tuple[bytes, asyncio.Future[None]]], done: asyncio.Future[None]) -> None:
        self._writing = None
        exc = done.exception() if not done.cancelled() else OSError("spool write cancelled")
        for _, future in batch:
            if future.done():
                continue  # its appender left (cancelled); the record is written or not, as for all
            if exc is None:
                future.set_result(None)
            else:
                future.set_exception(exc)
        self._write_waiting()

    def append_sync(self, payload: bytes) -> None:
        self._write_records([_record(payload)])

    def _write_records(self, records: list[bytes]) -> None:
        with self._lock:
            try:
                fh = self._open_segment()
                fh.write(b"".join(records))
                fh.flush()
                os.fsync(fh.fileno())
            except OSError:
                self._writable = False
                self._close_segment()
                raise
            self._writable = True
            self._backlog += len(records)
            if fh.tell() >= self._segment_max:
                self._close_segment()

    def _open_segment(self) -> BinaryIO:
        if self._file is None:
            path = self.directory / _segment_name(self._next_number)
            self._next_number += 1
            self._file = open(path, "ab")  # noqa: SIM115 - kept open across appends
            self._file_path = path
            # The new directory entry must survive a power cut as well as the data.
            dir_fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        return self._file

    def _close_segment(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            finally:
                self._file = None
                self._file_path = None

    # -- replaying -----------------------------------------------------------
    def seal(self) -> None:
        """Close the segment being written so that the replayer may take it."""
        with self._lock:
            self._close_segment()

    def sealed_segments(self) -> list[Path]:
        """Segments no writer will append to again.

        The listing happens under the writer's lock: listed outside it, a segment
        the writer opened meanwhile would look sealed, be replayed half-written
        and deleted, and the appends after that would be lost.
        """
        with self._lock:
            current = self._file_path
            return [p for p in self.segments() if p != current]

    def consumed(self, path: Path, records: int) -> None:
        """Every record of ``path`` is applied: delete it."""
        path.unlink(missing_ok=True)
        with self._lock:
            self._backlog = max(0, self._backlog - records)

    def set_aside(self, payload: bytes) -> Path:
        """Keep a record the database refuses in ``rejected/`` for a person to look at."""
        folder = self.directory / REJECTED_DIR
        folder.mkdir(exist_ok=True, mode=0o700)
        path = folder / f"{zlib.crc32(payload):08x}-{len(list(folder.iterdir())):06d}.json"
        path.write_bytes(payload)
        return path

    def set_aside_segment(self, path: Path) -> Path:
        """Move a segment that cannot be read to ``rejected/``, where a person can look at it."""
        folder = self.directory / REJECTED_DIR
        folder.mkdir(exist_ok=True, mode=0o700)
        target = folder / path.name
        os.replace(path, target)
        return target

    def close(self) -> None:
        with self._lock:
            self._close_segment()
        self._executor.shutdown(wait=True)
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # and with it the lock
            self._lock_fd = None


def _lock_directory(directory: Path) -> int:
    """Hold an exclusive lock on ``directory``'s lock file; SpoolLocked when another process has it."""
    path = directory / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise SpoolLocked(
            f"the spool {directory} is in use by another callbridge (pid {holder}); "
            "stop that one, or give this one a state_dir of its own"
        ) from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd
