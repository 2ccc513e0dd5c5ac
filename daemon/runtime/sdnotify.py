"""The systemd notify protocol (sd_notify(3)), without a dependency.

A service of ``Type=notify`` tells systemd it is ready (``READY=1``), alive
(``WATCHDOG=1``, at least once per ``WatchdogSec``) and stopping
(``STOPPING=1``) by sending datagrams to the AF_UNIX socket named in
``NOTIFY_SOCKET``. A name starting with ``@`` is a Linux abstract socket (its
first byte is NUL). Without ``NOTIFY_SOCKET`` (a shell, a test, a container)
every call is a no-op. Sending never raises: telling systemd is best effort,
and the daemon must not die because its supervisor went away.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping

import structlog

log = structlog.get_logger(__name__)

NOTIFY_SOCKET_ENV = "NOTIFY_SOCKET"
WATCHDOG_USEC_ENV = "WATCHDOG_USEC"
WATCHDOG_PID_ENV = "WATCHDOG_PID"
USEC_PER_S = 1_000_000


def _address(name: str) -> str | bytes:
    """The socket address systemd gave; ``@name`` is the abstract ``\\0name``."""
    if name.startswith("@"):
        return b"\0" + name[1:].encode()
    return name


class SdNotifier:
    """Sends state changes to systemd; does nothing when not started by it."""

    def __init__(self, socket_name: str | None, *, watchdog_usec: int | None = None) -> None:
        self._address = _address(socket_name) if socket_name else None
        self._sock: socket.socket | None = None
        self.watchdog_interval_s = (
            watchdog_usec / USEC_PER_S / 2 if watchdog_usec and watchdog_usec > 0 else None
        )

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> SdNotifier:
        """Read the protocol's variables; they are systemd's, not configuration."""
        env = os.environ if environ is None else environ
        socket_name = env.get(NOTIFY_SOCKET_ENV) or None
        watchdog_usec = env.get(WATCHDOG_USEC_ENV, "")
        watchdog_pid = env.get(WATCHDOG_PID_ENV, "")
        # WATCHDOG_PID names the process the watchdog is meant for; a child that
        # inherited the variables must not keep its parent alive.
        mine = not watchdog_pid or (watchdog_pid.isdigit() and int(watchdog_pid) == os.getpid())
        usec = int(watchdog_usec) if watchdog_usec.isdigit() and mine else None
        return cls(socket_name, watchdog_usec=usec)

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def notify(self, *assignments: str) -> bool:
        """Send ``KEY=VALUE`` lines in one datagram; True when it was sent."""
        if self._address is None:
            return False
        message = "\n".join(assignments).encode()
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._sock.setblocking(False)
            self._sock.sendto(message, self._address)
        except OSError as exc:
            log.warning(
                "sd_notify_failed",
                message=assignments[0] if assignments else "",
                error=f"{exc.__class__.__name__}: {exc}",
            )
            return False
        return True

    def ready(self, status: str) -> bool:
        return self.notify("READY=1", f"STATUS={status}")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def stopping(self, status: str = "stopping") -> bool:
        return self.notify("STOPPING=1", f"STATUS={status}")

    def reloading(self) -> bool:
        """Say a reload began; ``ready`` ends it. systemd wants the monotonic clock with it."""
        now_usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={now_usec}", "STATUS=reloading settings")

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text}")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
