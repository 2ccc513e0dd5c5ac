-- Named queries of the event pipeline. Loaded once by daemon/queries.py.

-- name: lock_key
-- Serialise work on one call (or one phone) across processes for this transaction.
SELECT pg_advisory_xact_lock(hashtextextended($1::text, 0));

-- name: lock_keys
-- A batch's locks (daemon.groupcommit), each once, sorted by key as the other
-- batch lockers sort theirs (merges, imports, retention): nobody waits in a cycle.
SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0)))
FROM (SELECT DISTINCT k FROM unnest($1::text[]) AS u (k) ORDER BY k) AS ordered;

-- name: insert_inbox
-- The dedup step: a repeat delivery hits inbox.dedup_key and returns no row.
INSERT INTO inbox (dedup_key, source, path, raw, kind, entry_id, call_id, event)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)
ON CONFLICT (dedup_key) DO NOTHING
RETURNING id;

-- name: insert_inbox_many
-- insert_inbox for a whole batch (daemon.groupcommit), in the order given; returns the
-- dedup keys that went in (a repeat, even of one earlier in the same batch, does not).
INSERT INTO inbox (dedup_key, source, path, raw, kind, entry_id, call_id, event)
SELECT d, s, p, r, k, e, c, ev::jsonb
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
            $8::text[]) AS batch (d, s, p, r, k, e, c, ev)
ON CONFLICT (dedup_key) DO NOTHING
RETURNING dedup_key;

-- name: insert_inbox_many_locked
-- lock_keys ($9) and insert_inbox_many in one round trip. Every lock is taken
-- before the first row goes in (the one-row aggregate must finish before the
-- join yields a row); the reads that follow are later statements, whose
-- snapshots include whatever the locks' previous holders committed.
WITH locked AS (
    SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0))) AS n
    FROM (SELECT DISTINCT k FROM unnest($9::text[]) AS u (k) ORDER BY k) AS ordered
)
INSERT INTO inbox (dedup_key, source, path, raw, kind, entry_id, call_id, event)
SELECT d, s, p, r, k, e, c, ev::jsonb
FROM locked,
     unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
            $8::text[]) AS batch (d, s, p, r, k, e, c, ev)
ON CONFLICT (dedup_key) DO NOTHING
RETURNING dedup_key;

-- name: call_events
-- Uses inbox_entry_idx.
SELECT event::text AS event
FROM inbox
WHERE entry_id = $1 AND kind = ANY($2::text[])
ORDER BY id;

-- name: insert_inbox_locked
-- lock_key and insert_inbox in one round trip. The lock is the INSERT's row
-- source, so it is held before the row goes in; the reads that follow are later
-- statements whose snapshots include whatever the lock's previous holder committed.
WITH locked AS (SELECT pg_advisory_xact_lock(hashtextextended($9::text, 0)))
INSERT INTO inbox (dedup_key, source, path, raw, kind, entry_id, call_id, event)
SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text, $8::jsonb FROM locked
ON CONFLICT (dedup_key) DO NOTHING
RETURNING id;

-- name: call_state
-- The call's events (call_events) and its communication's links, in one round trip;
-- pruned: the call's older events were pruned (retention), so it must not be re-derived.
-- The communication is locked (FOR UPDATE) so that a contact merge committed
-- meanwhile is seen here and not overwritten with the links read before it.
SELECT ARRAY(SELECT i.event::text FROM inbox i
             WHERE i.entry_id = $1 AND i.kind = ANY($2::text[])
             ORDER BY i.id) AS events,
       c.contact_id, c.lead_id,
       EXISTS (SELECT 1 FROM pruned_calls p WHERE p.entry_id = $1) AS pruned
FROM (VALUES (1)) AS one (x)
LEFT JOIN LATERAL (SELECT contact_id, lead_id FROM communications
                   WHERE entry_id = $1 FOR UPDATE) AS c ON true;

-- name: call_states
-- call_state for many calls in one round trip (daemon.groupcommit).
SELECT e.entry_id,
       ARRAY(SELECT i.event::text FROM inbox i
             WHERE i.entry_id = e.entry_id AND i.kind = ANY($2::text[])
             ORDER BY i.id) AS events,
       c.contact_id, c.lead_id,
       EXISTS (SELECT 1 FROM pruned_calls p WHERE p.entry_id = e.entry_id) AS pruned
FROM unnest($1::text[]) AS e (entry_id)
LEFT JOIN communications c ON c.entry_id = e.entry_id;

-- name: batch_lookups
-- contact_id_by_phone for many phones ($1) and ad_source_for_line for many line keys ($2),
-- in one round trip (daemon.groupcommit; the phones are locked by then).
SELECT 'phone' AS what, value AS key, contact_id, NULL::text AS ad_source
FROM contact_identifiers WHERE kind = 'phone' AND value = ANY($1::text[])
UNION ALL
SELECT 'line', line_key, NULL, ad_source FROM lines WHERE line_key = ANY($2::text[]);

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
INSERT INTO contact_identifiers (kind, value, contact_id)
SELECT 'phone', $1, id FROM contact
RETURNING contact_id;

-- name: open_lead
-- leads_one_open_per_contact makes this race-free: a second opener gets no row.
-- $5: the communication's own time; $6: the contact's previous lead.
INSERT INTO leads (contact_id, ad_source, line_number, opened_by_entry_id, opened_at, last_activity_at,
                   previous_lead_id)
VALUES ($1, $2, $3, $4, COALESCE($5::timestamptz, now()), COALESCE($5::timestamptz, now()), $6)
ON CONFLICT (contact_id) WHERE status = 'open' DO NOTHING
RETURNING id;

-- name: find_open_lead
SELECT id FROM leads WHERE contact_id = $1 AND status = 'open';

-- name: open_lead_for_update
-- The contact's open lead, locked until commit, and whether it had gone stale
-- by $2 (the new communication's time; NULL: now): no activity for $3 days.
SELECT id, COALESCE(last_activity_at, opened_at) + make_interval(days => $3::int)
           < COALESCE($2::timestamptz, now()) AS stale
FROM leads WHERE contact_id = $1 AND status = 'open'
FOR UPDATE;

-- name: touch_lead
-- Activity is the latest communication time seen (GREATEST skips NULLs), so
-- out-of-order deliveries leave the same value.
UPDATE leads SET last_activity_at = GREATEST(last_activity_at, COALESCE($2::timestamptz, now()))
WHERE id = $1;

-- name: archive_lead_stale
-- Closed at the moment it went stale, whoever notices (this or `leads archive`):
-- the same closed_at either way.
UPDATE leads SET status = 'archived',
                 closed_at = COALESCE(last_activity_at, opened_at) + make_interval(days => $2::int)
WHERE id = $1 AND status = 'open';

-- name: last_lead_of_contact
-- Uses leads_contact_idx (migration 0004).
SELECT id FROM leads WHERE contact_id = $1 ORDER BY id DESC LIMIT 1;

-- name: upsert_communication
-- The derived communication and what goes with it, in one statement:
-- * managers first seen on this call are created by extension (the PBX sync
--   fills in names); DO UPDATE, not NOTHING, so that one created by a
--   concurrent call still gives its id;
-- * when the caller says so ($20, $21), the contact and the lead this very call
--   created get the ad source and line learnt since (no-ops unless one is missing);
-- * the line's ad source is $11 when the caller looked it up ($22), else it is
--   looked up here by line key ($23): one round trip less for a settled call.
-- The CTEs touch other tables than the INSERT and read nothing it writes, so
-- this is the same as running them one after another in the transaction.
WITH line AS (
    SELECT CASE WHEN $22::boolean THEN $11::text
                ELSE (SELECT l.ad_source FROM lines l WHERE l.line_key = $23::text) END AS ad_source
),
wanted AS (
    SELECT DISTINCT e AS extension FROM unnest(array_append($9::text[], $8::text)) AS e
    WHERE e IS NOT NULL
),
new_managers AS (
    INSERT INTO managers (extension)
    SELECT w.extension FROM wanted w
    WHERE NOT EXISTS (SELECT 1 FROM managers m WHERE m.extension = w.extension)
    ON CONFLICT (extension) DO UPDATE SET extension = EXCLUDED.extension
    RETURNING id, extension
),
filled_contact AS (
    UPDATE contacts
    SET ad_source = line.ad_source, updated_at = now()
    FROM line
    WHERE contacts.id = $20 AND contacts.created_by_entry_id = $1 AND contacts.ad_source IS NULL
      AND line.ad_source IS NOT NULL
),
filled_lead AS (
    UPDATE leads
    SET ad_source = COALESCE(leads.ad_source, line.ad_source), line_number = COALESCE(leads.line_number, $10)
    FROM line
    WHERE leads.id = $21 AND leads.opened_by_entry_id = $1 AND (leads.ad_source IS NULL OR leads.line_number IS NULL)
)
INSERT INTO communications (
    entry_id, channel, direction, status, phone, phone_raw, contact_id, lead_id,
    manager_id, manager_extension, participants, line_number, ad_source,
    started_at, answered_at, ended_at, talk_seconds, recording_ids,
    disconnect_reason, finished, reconciled
) VALUES (
    $1, 'call', $2, $3, $4, $5, $6, $7,
    COALESCE((SELECT id FROM new_managers WHERE extension = $8),
             (SELECT id FROM managers WHERE extension = $8)),
    $8, $9, $10, (SELECT ad_source FROM line),
    to_timestamp($12), to_timestamp($13), to_timestamp($14), $15, $16, $17, $18, $19
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
