"""The daemon's own exceptions; asyncpg's never travel past the repository."""


class CallbridgeError(Exception):
    """Base of callbridge's errors."""


class StorageUnavailable(CallbridgeError):
    """PostgreSQL cannot be reached or did not answer in time."""


class StorageError(CallbridgeError):
    """PostgreSQL answered with an error we did not expect."""
