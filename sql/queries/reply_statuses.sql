-- name: reply_status_upsert
-- The provider's latest state of our message ($1 source, $2 provider id): a state
-- arriving late (sent after read) never moves it back; reply_statuses' primary key.
INSERT INTO reply_statuses (source, provider_id, status, rank, reported_at, detail)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (source, provider_id) DO UPDATE
    SET status = EXCLUDED.status, rank = EXCLUDED.rank, reported_at = EXCLUDED.reported_at,
        detail = EXCLUDED.detail
    WHERE reply_statuses.rank <= EXCLUDED.rank

-- name: reply_status_of
SELECT status, reported_at, detail FROM reply_statuses WHERE source = $1 AND provider_id = $2
