"""The PBX's route limit, shared by every daemon on the database.

The PBX counts route commands per product (the whole office), not per
connection: two daemons each pacing themselves to the limit sent twice the
allowed rate, and the excess came back as 429s. The pace is therefore kept
in PostgreSQL, in the one row of ``route_rate_bucket``, by the generic cell
rate algorithm: a slot every ``interval_s``, up to ``burst`` at once after a
quiet spell (as the per-process token bucket it replaces). Taking a slot is one
``UPDATE ... RETURNING``; a daemon then waits on its own clock until its slot,
which is never early, since the answer comes back after the database's now.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class SlotStore(Protocol):
    async def reserve_route_slot(self, *, interval_s: float, tolerance_s: float,
                                 max_wait_s: float) -> float | None: ...


@dataclass(frozen=True)
class SharedRateLimit:
    """``rate_per_s`` route commands a second, across every daemon of the office."""

    store: SlotStore
    rate_per_s: float

    @property
    def burst(self) -> int:
        """Commands that may go at once after a quiet spell: a second's worth, at least one."""
        return max(1, int(self.rate_per_s))

    @property
    def interval_s(self) -> float:
        return 1.0 / self.rate_per_s

    async def reserve(self, *, max_wait_s: float) -> float | None:
        """Seconds until this command's slot (0.0: now); None when no slot starts within ``max_wait_s``.

        Raises StorageUnavailable / StorageError like any query: without the
        database the shared pace cannot be kept, and routing needs it anyway.
        """
        return await self.store.reserve_route_slot(
            interval_s=self.interval_s, tolerance_s=(self.burst - 1) * self.interval_s,
            max_wait_s=max(max_wait_s, 0.0))
