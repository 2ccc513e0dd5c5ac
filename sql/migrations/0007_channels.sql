-- Every inquiry, every channel: forms, chats and messengers become
-- communications and leads, exactly like calls.

-- A communication is a call (entry_id = the PBX's), or an inquiry from another
-- channel (entry_id = 'inq:<source>:<external id of its first message>'): one
-- form, or one conversation of a chat while it lasts. 'received' is the status
-- of an inquiry; calls keep ringing / answered / missed.
ALTER TABLE communications DROP CONSTRAINT communications_status_check;
ALTER TABLE communications
    ADD CONSTRAINT communications_status_check CHECK (status IN ('ringing', 'answered', 'missed', 'received')),
    ADD COLUMN source            text,
    ADD COLUMN external_id       text,
    ADD COLUMN conversation_key  text,
    ADD COLUMN text              text,
    ADD COLUMN utm               jsonb,
    ADD COLUMN page_url          text,
    ADD COLUMN email             text,
    ADD COLUMN message_count     integer NOT NULL DEFAULT 0,
    ADD COLUMN last_message_at   timestamptz,
    -- When someone of the agency first wrote back in the conversation.
    ADD COLUMN replied_at        timestamptz;
-- The open conversation of a chat: one probe per message.
CREATE INDEX communications_conversation_idx ON communications (source, conversation_key, last_message_at)
    WHERE conversation_key IS NOT NULL;

-- «Реклама — Рекомендация»: who brought whom, and by which inquiry.
CREATE TABLE contact_referrals (
    contact_id        bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    referrer_id       bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    communication_id  bigint REFERENCES communications (id) ON DELETE SET NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (contact_id, referrer_id),
    CHECK (contact_id <> referrer_id)
);
CREATE INDEX contact_referrals_referrer_idx ON contact_referrals (referrer_id);
