"""The daemon's own exceptions; asyncpg's never travel past the repository."""


class CallbridgeError(Exception):
    """Base of callbridge's errors."""


class StorageUnavailable(CallbridgeError):
    """PostgreSQL cannot be reached or did not answer in time."""


class StorageTimeout(StorageUnavailable):
    """A query ran out of time (asyncpg's command timeout, PostgreSQL's statement or lock timeout).

    Not an outage, and not our bug: answered 503 ``{"error": "query timeout", "after_s": N}``,
    logged with the query's name. A StorageUnavailable still, so that what keeps an event for
    later (the spool) keeps it on a timeout too.
    """

    def __init__(self, *, query: str | None, after_s: float) -> None:
        super().__init__(f"query timeout after {after_s:g} s" + (f" (query {query})" if query else ""))
        self.query = query
        self.after_s = after_s


class StorageError(CallbridgeError):
    """PostgreSQL answered with an error we did not expect."""


class StorageRefused(StorageError):
    """PostgreSQL refused a value (SQLSTATE class 22, a NOT NULL or CHECK): the input's fault, a 4xx."""

    def __init__(self, message: str, *, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class BadInput(CallbridgeError):
    """The request is at fault: answered ``status`` (a 4xx) with ``{"error": problem, **details}``.

    Raised by any handler; daemon/http/boundary.py's error middleware writes the answer.
    """

    def __init__(self, status: int, problem: str, **details: object) -> None:
        super().__init__(problem)
        self.status = status
        self.body: dict[str, object] = {"error": problem, **details}
