-- Replies from the screen through a durable outbox, and the conversation message by message.
--
-- communications.reply_to: how to answer the conversation (the latest message's
-- ReplyAddress: {"to": ..., "thread": {...}}); NULL where the channel gave no way back.
ALTER TABLE communications ADD COLUMN reply_to jsonb;

-- One row per message of a conversation, both ways. Inbound rows ('in', 'received')
-- are written by the inquiry projector; outbound ones are a manager's reply or an
-- auto-reply ('queued' until the sender has delivered them: 'sent' or 'failed'), or a
-- reply made elsewhere that the channel reported back ('sent' at once). A queued row
-- IS the outbox: written in the transaction that answers 202, claimed by one sender
-- at a time (FOR UPDATE SKIP LOCKED), its id the idempotency key given to providers
-- that take one (VK random_id).
CREATE TABLE communication_messages (
    id                bigserial PRIMARY KEY,
    communication_id  bigint NOT NULL REFERENCES communications (id) ON DELETE CASCADE,
    direction         text NOT NULL CHECK (direction IN ('in', 'out')),
    kind              text NOT NULL CHECK (kind IN ('message', 'reply', 'auto_reply', 'elsewhere')),
    text              text NOT NULL,
    at                timestamptz NOT NULL DEFAULT now(),
    status            text NOT NULL CHECK (status IN ('received', 'queued', 'sent', 'failed')),
    error             text,
    extension         text,
    -- The reply channel (ReplyChannel.kind), the source and the address, as they were when queued.
    channel           text,
    source            text,
    address           jsonb,
    contact_id        bigint,
    attempts          integer NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz,
    -- Set while a sender holds the message; still set when it is claimed again, the
    -- last attempt never ended (a killed daemon): it may have been delivered.
    in_flight_since   timestamptz,
    maybe_delivered   boolean NOT NULL DEFAULT false,
    provider_id       text,
    sent_at           timestamptz,
    idempotency_key   text,
    CONSTRAINT communication_messages_idempotency_key UNIQUE (communication_id, idempotency_key),
    CONSTRAINT communication_messages_queue_check CHECK (status <> 'queued' OR next_attempt_at IS NOT NULL)
);
-- The conversation in the order callbridge learnt of its messages (a customer's clock and ours
-- disagree: an e-mail's Date, a Telegram message's date, our reply's now()).
CREATE INDEX communication_messages_conversation_idx ON communication_messages (communication_id, id);
-- What is due to be sent: only queued rows are in it.
CREATE INDEX communication_messages_due_idx ON communication_messages (next_attempt_at, id) WHERE status = 'queued';
-- At most one auto-reply per contact per 12 hours: a contact's communications
-- (communications_contact_idx, which a merge re-points), then their auto-replies.
CREATE INDEX communication_messages_auto_reply_idx ON communication_messages (communication_id, at)
    WHERE kind = 'auto_reply';
