-- Identifiers: a contact holds any number of phones, e-mails and
-- messenger accounts, and each belongs to at most one contact. Everything that
-- finds a person (the call pipeline, lookups, imports, the other channels)
-- goes through this one table. contact_phones and contact_emails move into it.

CREATE TABLE contact_identifiers (
    kind                 text NOT NULL CHECK (kind IN ('phone', 'email', 'telegram', 'vk')),
    value                text NOT NULL,
    contact_id           bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    -- «Не звонить» is kept on the identifier, so it survives merges and re-imports.
    do_not_call_reason   text,
    do_not_call_since    timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    -- The primary key is the lookup index: one probe finds the person.
    PRIMARY KEY (kind, value),
    CONSTRAINT contact_identifiers_value_shape CHECK (CASE kind
        WHEN 'phone' THEN value ~ '^\+[1-9][0-9]{6,14}$'
        WHEN 'email' THEN value = lower(value) AND value ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'
        ELSE value ~ '^[1-9][0-9]{0,19}$'
    END)
);
CREATE INDEX contact_identifiers_contact_idx ON contact_identifiers (contact_id);

-- What a spreadsheet or a form put in a phone or e-mail field but is not one
-- (`12-34`, `ivanov@`): kept on the contact and reported, never used to find anyone.
CREATE TABLE contact_invalid_identifiers (
    id           bigserial PRIMARY KEY,
    contact_id   bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('phone', 'email', 'telegram', 'vk')),
    value        text NOT NULL,
    reason       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (contact_id, kind, value)
);

-- A merged contact is kept and points at its survivor; a purged one is hidden.
ALTER TABLE contacts
    ADD COLUMN merged_into  bigint REFERENCES contacts (id),
    ADD COLUMN removed_at   timestamptz;
CREATE INDEX contacts_merged_into_idx ON contacts (merged_into) WHERE merged_into IS NOT NULL;

INSERT INTO contact_identifiers (kind, value, contact_id, created_at)
SELECT 'phone', phone, contact_id, created_at FROM contact_phones;

INSERT INTO contact_identifiers (kind, value, contact_id)
SELECT 'email', email, contact_id FROM contact_emails
WHERE email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$';

-- contact_emails only checked lower case; anything else is kept, as invalid.
INSERT INTO contact_invalid_identifiers (contact_id, kind, value, reason)
SELECT contact_id, 'email', email, 'not an e-mail address' FROM contact_emails
WHERE email !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$';

DROP TABLE contact_phones;
DROP TABLE contact_emails;
