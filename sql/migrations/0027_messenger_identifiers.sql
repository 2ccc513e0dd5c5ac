-- MAX and Avito accounts find a person like a Telegram or VK id (a positive
-- integer, the same value shape), and our replies' delivery states reported by
-- the providers (Wazzup `statuses`) are kept by the provider's message id.
ALTER TABLE contact_identifiers DROP CONSTRAINT contact_identifiers_kind_check;
ALTER TABLE contact_identifiers ADD CONSTRAINT contact_identifiers_kind_check
    CHECK (kind IN ('phone', 'email', 'telegram', 'vk', 'max', 'avito'));
ALTER TABLE contact_invalid_identifiers DROP CONSTRAINT contact_invalid_identifiers_kind_check;
ALTER TABLE contact_invalid_identifiers ADD CONSTRAINT contact_invalid_identifiers_kind_check
    CHECK (kind IN ('phone', 'email', 'telegram', 'vk', 'max', 'avito'));

-- The latest delivery state a provider reported for one of our sent messages
-- (`sent`, `delivered`, `read`, `error`), by the id the provider gave it: the
-- outbox keeps that id as the message's provider id and reads its state here.
CREATE TABLE reply_statuses (
    source         text NOT NULL,
    provider_id    text NOT NULL,
    status         text NOT NULL,
    rank           smallint NOT NULL,
    reported_at    timestamptz NOT NULL,
    detail         text,
    PRIMARY KEY (source, provider_id)
);
