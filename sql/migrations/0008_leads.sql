-- Leads that end, trips, computed tags.

-- A lead opens at its first communication's own time (the PBX's or the sender's
-- timestamp), not when the row was written: a late or reconciled call counts on its day.
ALTER TABLE leads ADD COLUMN opened_at timestamptz;
UPDATE leads l SET
    opened_at = COALESCE((SELECT min(c.started_at) FROM communications c WHERE c.lead_id = l.id), l.created_at),
    last_activity_at = COALESCE(l.last_activity_at,
                                (SELECT max(c.started_at) FROM communications c WHERE c.lead_id = l.id),
                                l.created_at);
ALTER TABLE leads ALTER COLUMN opened_at SET DEFAULT now(), ALTER COLUMN opened_at SET NOT NULL;
-- (A contact's leads and a lead's communications are found by migration 0004's
-- leads_contact_idx and communications_lead_idx.)
-- `leads archive` finds the stale open leads by this.
CREATE INDEX leads_open_activity_idx ON leads (last_activity_at) WHERE status = 'open';

-- Bookings from the booking system, keyed by its order number: a re-import updates.
CREATE TABLE trips (
    id                 bigserial PRIMARY KEY,
    order_number       text NOT NULL UNIQUE,
    contact_id         bigint REFERENCES contacts (id) ON DELETE SET NULL,
    -- The lead the booking won (open when the booking was made), if any.
    lead_id            bigint REFERENCES leads (id) ON DELETE SET NULL,
    status             text NOT NULL CHECK (status IN ('paid', 'cancelled', 'pending')),
    status_raw         text,
    amount             numeric(14, 2),
    starts_on          date,
    ends_on            date,
    manager_extension  text,
    booked_at          timestamptz NOT NULL,
    imported_at        timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX trips_contact_idx ON trips (contact_id, starts_on);
CREATE INDEX trips_lead_idx ON trips (lead_id) WHERE lead_id IS NOT NULL;

-- Computed tags live in contacts.tags (so every lookup, card and report shows
-- them); this table remembers which of them `tags refresh` put there, so that
-- it removes only its own, and so that one missing from contacts.tags is known
-- to have been removed by hand.
CREATE TABLE contact_computed_tags (
    contact_id   bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    tag          text NOT NULL,
    applied_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (contact_id, tag)
);
-- A computed tag a manager removed by hand: never put back by `tags refresh`.
CREATE TABLE contact_tag_removals (
    contact_id   bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    tag          text NOT NULL,
    removed_by   text,
    removed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (contact_id, tag)
);
