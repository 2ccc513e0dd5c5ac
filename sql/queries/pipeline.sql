-- Named queries of the event pipeline. Loaded once by daemon/queries.py.

-- name: lock_key
-- Serialise work on one call (or one phone) across processes for this transaction.
SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0));

-- name: insert_inbox
-- The dedup step: a repeat delivery hits inbox.dedup_key and returns no row.
INSERT INTO inbox (dedup_key, source, path, raw, kind, entry_id, call_id, event)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)
ON CONFLICT (dedup_key) DO NOTHING
RETURNING id;

-- name: call_events
-- Uses inbox_entry_idx.
SELECT event::text AS event
FROM inbox
WHERE entry_id = $1 AND kind = ANY($2::text[])
ORDER BY id;

-- name: communication_links
SELECT id, contact_id, lead_id
FROM communications
WHERE entry_id = $1;

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

-- name: create_contact_for_phone
-- An unknown caller becomes a contact carrying the line's ad source.
WITH contact AS (
    INSERT INTO contacts (ad_source, created_by_entry_id)
    VALUES ($2, $3)
    RETURNING id
)
INSERT INTO contact_phones (phone, contact_id)
SELECT $1, id FROM contact
RETURNING contact_id;

-- name: fill_created_contact
-- Facts learnt later about the call that created a contact still reach it.
UPDATE contacts
SET ad_source = COALESCE(ad_source, $3), updated_at = now()
WHERE id = $1 AND created_by_entry_id = $2 AND ad_source IS NULL AND $3::text IS NOT NULL;

-- name: open_lead
-- leads_one_open_per_contact makes this race-free: a second opener gets no row.
INSERT INTO leads (contact_id, ad_source, line_number, opened_by_entry_id)
VALUES ($1, $2, $3, $4)
ON CONFLICT (contact_id) WHERE status = 'open' DO NOTHING
RETURNING id;

-- name: find_open_lead
SELECT id FROM leads WHERE contact_id = $1 AND status = 'open';

-- name: fill_opened_lead
UPDATE leads
SET ad_source = COALESCE(ad_source, $3), line_number = COALESCE(line_number, $4)
WHERE id = $1 AND opened_by_entry_id = $2 AND (ad_source IS NULL OR line_number IS NULL);

-- name: upsert_communication
INSERT INTO communications (
    entry_id, channel, direction, status, phone, phone_raw, contact_id, lead_id,
    manager_id, manager_extension, participants, line_number, ad_source,
    started_at, answered_at, ended_at, talk_seconds, recording_ids,
    disconnect_reason, finished, reconciled
) VALUES (
    $1, 'call', $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,
    to_timestamp($13), to_timestamp($14), to_timestamp($15), $16, $17, $18, $19, $20
)
ON CONFLICT (entry_id) DO UPDATE SET
    direction = EXCLUDED.direction,
    status = EXCLUDED.status,
    phone = EXCLUDED.phone,
    phone_raw = EXCLUDED.phone_raw,
    contact_id = EXCLUDED.contact_id,
    lead_id = EXCLUDED.lead_id,
    manager_id = EXCLUDED.manager_id,
    manager_extension = EXCLUDED.manager_extension,
    participants = EXCLUDED.participants,
    line_number = EXCLUDED.line_number,
    ad_source = EXCLUDED.ad_source,
    started_at = EXCLUDED.started_at,
    answered_at = EXCLUDED.answered_at,
    ended_at = EXCLUDED.ended_at,
    talk_seconds = EXCLUDED.talk_seconds,
    recording_ids = EXCLUDED.recording_ids,
    disconnect_reason = EXCLUDED.disconnect_reason,
    finished = EXCLUDED.finished,
    reconciled = EXCLUDED.reconciled,
    updated_at = now();
