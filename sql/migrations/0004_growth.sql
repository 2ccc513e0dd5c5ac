-- What grows with the base: indexes for the foreign keys we look up
-- or delete by, history indexes in the order the history is read, and what the
-- inbox's retention needs.
--
-- Plain CREATE INDEX (the migration runs in a transaction, which CONCURRENTLY
-- cannot): on a large existing base, run it in a quiet hour.

-- History (the API's /api/communications and the screen's last calls) is read
-- newest first, ties by id, LIMIT n: an index in exactly that order lets a scan
-- stop after n rows instead of sorting every call of a number or contact.
-- The reports' "reached back later" probe (phone, started_at >) still uses them.
DROP INDEX communications_contact_idx;
CREATE INDEX communications_contact_idx ON communications (contact_id, started_at DESC NULLS LAST, id DESC);
DROP INDEX communications_phone_idx;
CREATE INDEX communications_phone_idx ON communications (phone, started_at DESC NULLS LAST, id DESC);

-- Foreign keys: a lookup by them, and a DELETE of the referenced row (ON DELETE
-- SET NULL / CASCADE), otherwise scans the referencing table.
CREATE INDEX communications_lead_idx ON communications (lead_id) WHERE lead_id IS NOT NULL;
CREATE INDEX communications_manager_idx ON communications (manager_id) WHERE manager_id IS NOT NULL;
-- leads_one_open_per_contact covers only open leads; closed ones are found here.
CREATE INDEX leads_contact_idx ON leads (contact_id);

-- Retention: raw events older than inbox_retention_days are pruned in batches,
-- oldest first; derived rows stay. A call whose events were pruned is listed in
-- pruned_calls, so that a late or re-delivered event of it is kept in the inbox
-- but never re-derives the call from the few events left (which would make it
-- worse). A table of its own, not a column of communications: marking a call
-- must not fire the screen's NOTIFY trigger for thousands of old calls.
CREATE INDEX inbox_received_idx ON inbox (received_at);
-- "Is this call over?" for each candidate: only calls not over are indexed (a few).
CREATE INDEX communications_unfinished_idx ON communications (entry_id) WHERE NOT finished;
CREATE TABLE pruned_calls (
    entry_id    text PRIMARY KEY,
    pruned_at   timestamptz NOT NULL DEFAULT now()
);
