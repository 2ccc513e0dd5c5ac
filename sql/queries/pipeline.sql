-- Named queries of the event pipeline. Loaded once by daemon/store/queries.py.

-- name: lock_key
-- Serialise work on one call (or one phone) across processes for this transaction.
SELECT callbridge_lock_v1(ARRAY[$1::text]);

-- name: lock_keys
-- A batch's locks (daemon.intake.groupcommit's careful path), each once, in the one order
-- (callbridge_lock_v1, migration 0018): nobody waits in a cycle.
SELECT callbridge_lock_v1($1::text[]);

-- name: ingest
-- A batch's call and conversation locks ($9), its events into the inbox, and the state
-- of every call that got a new event of kinds $10, in one round trip (migration 0018).
-- The transaction only notes the contacts and inquiries it touches for the duplicate
-- candidates and the analytics' facts, which are settled just after its commit (migration
-- 0036, daemon/store/settle.py). (set_config runs unless no event is new: then nothing
-- is filed either.)
SELECT dedup_key, entry_id, events, contact_id, lead_id, pruned
FROM set_config('callbridge.settle_later', 'on', true) AS later,
     callbridge_ingest_v2($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                       $7::text[], $8::text[], $9::text[], $10::text[]);

-- name: call_state
-- One call's state (callbridge_call_states_v1, migration 0018): its events, its
-- communication's links (the row locked), and whether it was pruned.
SELECT events, contact_id, lead_id, pruned FROM callbridge_call_states_v1(ARRAY[$1::text], $2::text[]);

-- name: store_calls
-- Derived calls ($1, a JSON array) linked and upserted, after the batch's identifier
-- locks ($2: the new callers' phones, the inquiries' identifiers), in one round trip
-- (migration 0018).
SELECT entry_id, created_contact_id FROM callbridge_store_calls_v2($1::jsonb, $2::text[], $3::int);

-- name: open_lead
-- The contact's open lead, joined or opened at $5 (NULL: now); $6: lead_stale_days.
SELECT callbridge_open_lead_v1($1::bigint, $2::text, $3::text, $4::text, $5::timestamptz, $6::int);

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
