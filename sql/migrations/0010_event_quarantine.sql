-- Events PostgreSQL refused on replay from the spool, or spool records that
-- could not be read. Each was acknowledged to the
-- PBX, which will not send it again, so it is kept here for a person, with the
-- reason, and /health warns while any is unresolved. `envelope` is the spool
-- record exactly as written (bytea: it may be neither valid UTF-8 nor JSON).
-- Set resolved_at once it is dealt with.
CREATE TABLE event_quarantine (
    id              bigserial PRIMARY KEY,
    digest          bytea NOT NULL UNIQUE,   -- sha256 of the envelope: replayed twice, kept once
    reason          text NOT NULL,
    dedup_key       text,
    envelope        bytea NOT NULL,
    quarantined_at  timestamptz NOT NULL DEFAULT now(),
    resolved_at     timestamptz
);
CREATE INDEX event_quarantine_open_idx ON event_quarantine (quarantined_at) WHERE resolved_at IS NULL;
