"""Filing an inquiry outside a batch: it takes the identifier locks the batch would have taken.

``Pipeline.write`` takes every identifier lock of a batch in one sorted call before the first
inquiry is filed, so the conversation is opened together with the lookup of its identifiers
(one statement). Filed alone, in a transaction that holds none of them, the projector opens
the conversation, takes the locks and then looks the identifiers up: the same rows either way.
"""

from __future__ import annotations

from datetime import UTC, datetime

from config.settings import load_settings
from daemon.domain.events import InquiryReceived
from daemon.domain.inquiry import Inquiry
from daemon.inquiries.projector import InquiryPipeline
from daemon.store.repository import Repository

T0 = 1_764_000_000


def chat(external_id: str, after_s: int, text: str, *, phones: tuple[str, ...] = ()) -> InquiryReceived:
    inquiry = Inquiry(channel="telegram", source="tg-bot", external_id=external_id, conversation_id="chat-1",
                      telegram_id="700701", phones=phones, name="Гость", text=text,
                      received_at=datetime.fromtimestamp(T0 + after_s, UTC))
    return InquiryReceived(inquiry=inquiry)


async def test_filing_alone_takes_its_locks_and_joins_the_conversation(repo: Repository) -> None:
    settings = load_settings({})
    projector = InquiryPipeline(region="RU", settings=lambda: settings)
    async with repo.transaction() as tx:
        first = await projector.file(tx, chat("m1", 0, "Здравствуйте"))
        assert "telegram:700701" in tx.held
    async with repo.transaction() as tx:
        second = await projector.file(tx, chat("m2", 30, "Хотим в Турцию в июле", phones=("89165550303",)))
        assert {"telegram:700701", "phone:+79165550303"} <= tx.held
    assert first.new_contact and not second.new_contact
    assert (second.communication_id, second.contact_id, second.lead_id) == (
        first.communication_id, first.contact_id, first.lead_id)
    row = await repo.pool.fetchrow("SELECT message_count, phone, contact_id, lead_id FROM communications")
    assert tuple(row) == (2, "+79165550303", first.contact_id, first.lead_id)
    held = {r[0]: r[1] for r in await repo.pool.fetch("SELECT kind, contact_id FROM contact_identifiers")}
    assert held == {"telegram": first.contact_id, "phone": first.contact_id}
    # The second message's wish reached the lead, stamped with the conversation's communication.
    wish = await repo.pool.fetchval("SELECT parsed::text FROM lead_wishes WHERE lead_id = $1", first.lead_id)
    assert wish is not None and f'"communication_id": {first.communication_id}' in wish
