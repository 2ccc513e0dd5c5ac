-- What an agency's contacts export says beyond phones and e-mails.
--
-- A birthday and a note («Дата рождения», «Комментарий») are kept on the contact.
-- «Ответственный» written as a person's name that no manager has becomes a manager
-- known by name only (no extension yet, so nothing is routed to it); sync-managers
-- later finds the PBX employee of that name and fills in the extension on the same
-- row. The name is compared as contacts' names are (contact_name_key: case, ё/е,
-- punctuation and word order ignored); one name-only manager per name.

ALTER TABLE contacts ADD COLUMN birthday date, ADD COLUMN note text;

ALTER TABLE managers ALTER COLUMN extension DROP NOT NULL;
ALTER TABLE managers ADD COLUMN name_key text GENERATED ALWAYS AS (contact_name_key(name)) STORED;
ALTER TABLE managers ADD CONSTRAINT managers_extension_or_name_check
    CHECK (extension IS NOT NULL OR name_key IS NOT NULL);
CREATE UNIQUE INDEX managers_name_only_idx ON managers (name_key) WHERE extension IS NULL;
CREATE INDEX managers_name_key_idx ON managers (name_key);
