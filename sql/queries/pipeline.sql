-- Named queries of the event pipeline. Loaded once by daemon/store/queries.py.

-- name: lock_key
-- Serialise work on one call (or one phone) across processes for this transaction.
SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0));

-- name: lock_keys
-- A batch's locks (daemon.intake.groupcommit's careful path), each once, sorted by key as the other
-- batch lockers sort theirs (merges, imports, retention): nobody waits in a cycle.
SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0)))
FROM (SELECT DISTINCT k FROM unnest($1::text[]) AS u (k) ORDER BY k) AS ordered;

-- name: ingest
-- A batch's call locks ($9), its events into the inbox, and the state of every call
-- that got a new event of kinds $10, in one round trip (migration 0013).
SELECT dedup_key, entry_id, events, contact_id, lead_id, pruned
FROM callbridge_ingest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                       $7::text[], $8::text[], $9::text[], $10::text[]);

-- name: call_state
-- One call's state (callbridge_call_states, migration 0013): its events, its
-- communication's links (the row locked), and whether it was pruned.
SELECT events, contact_id, lead_id, pruned FROM callbridge_call_states(ARRAY[$1::text], $2::text[]);

-- name: store_calls
-- Derived calls ($1, a JSON array) linked and upserted, after the new callers'
-- phone locks ($2), in one round trip (migration 0013).
SELECT entry_id, created_contact_id FROM callbridge_store_calls($1::jsonb, $2::text[], $3::int);

-- name: open_lead
-- The contact's open lead, joined or opened at $5 (NULL: now); $6: lead_stale_days.
SELECT callbridge_open_lead($1::bigint, $2::text, $3::text, $4::text, $5::timestamptz, $6::int);

-- name: find_open_lead
SELECT id FROM leads WHERE contact_id = $1 AND status = 'open';

-- name: ad_source_for_line
SELECT ad_source FROM lines WHERE line_key = $1;

-- name: manager_id_by_extension
SELECT id FROM managers WHERE extension = $1;

-- name: insert_manager
-- Managers are created by extension when first seen; the PBX sync fills in names.
-- DO UPDATE (not NOTHING) so that a concurrent creator still gets the id back.
INSERT INTO managers (extension) VALUES ($1)
ON CONFLICT (extension) DO UPDATE SET extension = EXCLUDED.extension
RETURNING id;
