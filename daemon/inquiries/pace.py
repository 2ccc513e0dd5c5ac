"""A provider's request limit kept by every daemon together (MAX: 30 requests a second per bot).

Before a paced channel's send (``daemon.domain.replies.paced_rate``), the sender reserves the
send's slot in PostgreSQL (``send_pace``, migration 0031: a GCRA per source, as the routes'
limit in route_rate_bucket) and waits for it. A slot further off than ``MAX_WAIT_S`` is not
taken: the reply is tried again after that long, so that no claim is held past its lease
while it waits. A limiter in each process let two daemons send twice the limit.
"""

from __future__ import annotations

import asyncio

import asyncpg

from daemon.store.queries import q

# Requests the provider takes at once before the pace applies (a second's worth at MAX's rate
# is what MAX itself counts: «30 requests a second»).
BURST_S = 0.5
# The longest a claimed reply waits for its slot; past it the reply is due again later.
MAX_WAIT_S = 2.0


async def reserve(pool: asyncpg.Pool, *, kind: str, source: str, requests_per_s: float) -> float | None:
    """Take the next slot of ``kind:source``; the seconds to wait for it, or None (too far off)."""
    interval = 1.0 / requests_per_s
    return await pool.fetchval(q("send_pace_reserve"), f"{kind}:{source}", interval, BURST_S, MAX_WAIT_S)


async def wait_turn(pool: asyncpg.Pool, *, kind: str, source: str, requests_per_s: float) -> bool:
    """Wait for this send's slot; False when it is too far off (retry the reply later)."""
    wait_s = await reserve(pool, kind=kind, source=source, requests_per_s=requests_per_s)
    if wait_s is None:
        return False
    if wait_s > 0:
        await asyncio.sleep(wait_s)
    return True
