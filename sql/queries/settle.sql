-- Named queries of the settle (daemon/store/settle.py, migration 0036).

-- name: settle_noted
-- Up to $1 rows the intake noted, what they name brought up to date (the duplicate
-- candidates of a contact, the analytics' facts of an inquiry); how many rows. $2: wait
-- for the rows another daemon's task holds (a reader) rather than skip them (the task).
SELECT callbridge_settle_v1($1, $2);
