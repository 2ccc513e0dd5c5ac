"""The providers' delivery states of our sent replies (a Wazzup ``statuses`` item): kept by
the provider's message id in ``reply_statuses``, the latest and furthest one.

States only move forward (``sent`` → ``delivered`` → ``read``; ``error`` beats them
all), so a late or repeated webhook never undoes a later state. The outbox keeps the
provider's id of each message it sent (``Delivered.provider_id``) and reads its state here.
"""

from __future__ import annotations

from datetime import UTC, datetime

from daemon.domain.events import Envelope, ReplyStatusReported
from daemon.store.queries import q
from daemon.store.repository import Tx

# How far along a message is; an unknown word ranks with "sent".
STATUS_RANK = {"sent": 1, "edited": 1, "delivered": 2, "read": 3, "error": 4}


class ReplyStatusProjector:
    """The projector of ``reply_status`` events (``daemon.intake.pipeline.Projector``)."""

    kind = "reply_status"

    def lock_key(self, env: Envelope) -> str | None:
        return None  # one upsert, ordered by rank: no lock needed

    def identifier_keys(self, env: Envelope) -> set[str]:
        return set()

    async def project(self, tx: Tx, env: Envelope) -> None:
        event = env.event
        if not isinstance(event, ReplyStatusReported):
            return
        at = datetime.fromtimestamp(event.at, UTC) if event.at is not None else datetime.now(UTC)
        await tx.conn.execute(q("reply_status_upsert"), env.source, event.provider_id, event.status,
                              STATUS_RANK.get(event.status, 1), at, event.detail)
