-- name: quarantine_event
-- $1 digest, $2 reason, $3 dedup_key, $4 envelope. A record replayed again is kept once.
INSERT INTO event_quarantine (digest, reason, dedup_key, envelope)
VALUES ($1, $2, $3, $4)
ON CONFLICT (digest) DO NOTHING;

-- name: quarantine_open_count
SELECT count(*) FROM event_quarantine WHERE resolved_at IS NULL;
