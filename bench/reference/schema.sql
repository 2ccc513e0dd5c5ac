-- The reference receiver's own tables (in a database of their own): a phone
-- index to identify the caller, an inbox for dedup, one row per call.
CREATE TABLE ref_phones (
    phone       text PRIMARY KEY,
    contact_id  bigint NOT NULL
);
CREATE TABLE ref_inbox (
    dedup_key    text PRIMARY KEY,
    raw          text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE ref_calls (
    entry_id    text PRIMARY KEY,
    phone       text,
    contact_id  bigint,
    state       text,
    events      integer NOT NULL DEFAULT 1,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
