-- Named queries of /health and reconciliation. Loaded once by daemon/store/queries.py.

-- name: health_probe
-- One round trip that proves the database answers and says how current it is:
-- the newest applied migration, and when the newest PBX event arrived (the
-- inbox primary key read backwards: one index probe, however large the table).
SELECT (SELECT max(version) FROM schema_migrations) AS schema_version,
       (SELECT received_at FROM inbox ORDER BY id DESC LIMIT 1) AS last_event_at,
       now() AS db_now;

-- name: known_entry_ids
-- Which of these calls already have a communication (communications.entry_id is unique).
SELECT entry_id FROM communications WHERE entry_id = ANY($1::text[]);

-- name: entries_with_live_summary
-- Which of these calls have the PBX's own summary (not a reconciled one) in the inbox.
-- Uses inbox_entry_idx.
SELECT DISTINCT entry_id FROM inbox
WHERE entry_id = ANY($1::text[]) AND kind = 'call_finished'
  AND (event->>'reconciled')::boolean IS NOT TRUE;
