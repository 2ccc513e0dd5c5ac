-- Named queries of the settle (daemon/store/settle.py, migration 0036).

-- name: settle_noted
-- Up to $1 rows the intake noted, what they name brought up to date (the duplicate
-- candidates of a contact, the analytics' facts of an inquiry); how many rows. $2: wait
-- for the rows another daemon's task holds (a reader) rather than skip them (the task).
SELECT callbridge_settle_v1($1, $2);

-- name: settle_lag
-- For /health: how many rows wait to be settled, and how long the oldest has waited.
-- Settled every second, so the table holds a second's worth: a scan of a few pages.
SELECT count(*) AS noted, COALESCE(extract(epoch FROM now() - min(noted_at)), 0)::float8 AS oldest_s
FROM settle_pending;
