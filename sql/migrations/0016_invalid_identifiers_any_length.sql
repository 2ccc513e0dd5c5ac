-- An invalid identifier is whatever a sender or a spreadsheet put where an
-- identifier belongs, of any length: a 10,000-character "e-mail" or a long
-- non-ASCII messenger id is larger than a b-tree entry may be (about 2.7 kB),
-- and the unique index on the text made PostgreSQL refuse the whole inquiry,
-- its valid phone with it. The same text is still kept once per contact: the
-- unique index holds the text's md5 instead of the text.
ALTER TABLE contact_invalid_identifiers DROP CONSTRAINT contact_invalid_identifiers_contact_id_kind_value_key;
CREATE UNIQUE INDEX contact_invalid_identifiers_once_idx
    ON contact_invalid_identifiers (contact_id, kind, md5(value));
