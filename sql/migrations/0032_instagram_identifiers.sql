-- An Instagram chat through Wazzup gives the person's own account id, as text
-- (letters, digits, `._-`, at most 64 characters), so the kind `instagram` is
-- kept like the other messenger accounts and finds him in his next conversation.
ALTER TABLE contact_identifiers DROP CONSTRAINT contact_identifiers_kind_check;
ALTER TABLE contact_identifiers ADD CONSTRAINT contact_identifiers_kind_check
    CHECK (kind IN ('phone', 'email', 'telegram', 'vk', 'max', 'avito', 'instagram'));
ALTER TABLE contact_invalid_identifiers DROP CONSTRAINT contact_invalid_identifiers_kind_check;
ALTER TABLE contact_invalid_identifiers ADD CONSTRAINT contact_invalid_identifiers_kind_check
    CHECK (kind IN ('phone', 'email', 'telegram', 'vk', 'max', 'avito', 'instagram'));
-- The value shape repeats daemon/domain/identifiers.py: an Instagram id is text,
-- every other messenger account a positive integer.
ALTER TABLE contact_identifiers DROP CONSTRAINT contact_identifiers_value_shape;
ALTER TABLE contact_identifiers ADD CONSTRAINT contact_identifiers_value_shape CHECK (CASE kind
    WHEN 'phone' THEN value ~ '^\+[1-9][0-9]{6,14}$'
    WHEN 'email' THEN value = lower(value) AND value ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'
    WHEN 'instagram' THEN value ~ '^[A-Za-z0-9._-]{1,64}$'
    ELSE value ~ '^[1-9][0-9]{0,19}$'
END);
