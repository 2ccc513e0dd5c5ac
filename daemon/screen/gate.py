"""A cap on the screen's sockets that are upgraded but not yet authenticated."""

from __future__ import annotations

# An office has a few dozen managers; a page sends its token at once.
MAX_SOCKETS_AWAITING_TOKEN = 64


class AuthGate:
    """How many sockets are upgraded but still waiting for their token: at most ``limit``.

    Such a socket has left the request limits (daemon/http/security.py) and costs a
    task and a buffer for up to AUTH_TIMEOUT_S; without a cap, anyone could hold
    thousands of them open without knowing the token.
    """

    def __init__(self, limit: int = MAX_SOCKETS_AWAITING_TOKEN) -> None:
        self.limit = limit
        self.waiting = 0

    def enter(self) -> bool:
        if self.waiting >= self.limit:
            return False
        self.waiting += 1
        return True

    def leave(self) -> None:
        self.waiting -= 1
