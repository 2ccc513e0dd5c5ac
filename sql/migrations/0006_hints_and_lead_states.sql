-- Shared ground of identifiers, inquiries and leads, laid first so that they could be built side by side.

-- Evidence that two active contacts are one person, found by the pipeline (an
-- inquiry that carries a phone of one and an e-mail of the other) and proposed
-- as an `identifier` duplicate; nothing is merged automatically. One row per
-- pair, the lower id first; a pair marked "not a duplicate" is never proposed again.
CREATE TABLE contact_duplicate_hints (
    contact_low    bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    contact_high   bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    reason         text NOT NULL DEFAULT 'identifier',
    evidence       jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (contact_low, contact_high),
    CHECK (contact_low < contact_high)
);
CREATE INDEX contact_duplicate_hints_high_idx ON contact_duplicate_hints (contact_high);

CREATE TABLE contact_not_duplicates (
    contact_low    bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    contact_high   bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    marked_by      text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (contact_low, contact_high),
    CHECK (contact_low < contact_high)
);
CREATE INDEX contact_not_duplicates_high_idx ON contact_not_duplicates (contact_high);

-- Leads end: open -> won | lost (with a reason) | archived (stale),
-- or merged (the younger of two open leads of contacts merged into one).
-- 'closed' was never written by any released code path; it reads as archived.
ALTER TABLE leads DROP CONSTRAINT leads_status_check;
UPDATE leads SET status = 'archived' WHERE status = 'closed';
ALTER TABLE leads
    ADD CONSTRAINT leads_status_check CHECK (status IN ('open', 'won', 'lost', 'archived', 'merged')),
    ADD COLUMN reason            text,
    ADD COLUMN previous_lead_id  bigint REFERENCES leads (id),
    ADD COLUMN last_activity_at  timestamptz;
CREATE INDEX leads_previous_idx ON leads (previous_lead_id) WHERE previous_lead_id IS NOT NULL;
