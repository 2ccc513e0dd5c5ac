-- Named queries of the inbox's retention (daemon/store/retention.py). Loaded once by daemon/store/queries.py.
--
-- An event may go when it is older than the cutoff ($cutoff), and so is every
-- other event of its call, and the call's communication (if any) is finished:
-- a call is pruned whole, and only once it is over. Events of no call (command
-- results, SMS statuses) go by age alone.

-- name: prune_inbox_candidates
-- The oldest prunable events, at most $2. Uses inbox_received_idx, then
-- communications_unfinished_idx and inbox_entry_idx per event.
SELECT i.id, i.entry_id
FROM inbox i
WHERE i.received_at < $1
  AND (i.entry_id IS NULL OR (
        NOT EXISTS (SELECT 1 FROM communications c WHERE c.entry_id = i.entry_id AND NOT c.finished)
        AND NOT EXISTS (SELECT 1 FROM inbox newer WHERE newer.entry_id = i.entry_id AND newer.received_at >= $1)))
ORDER BY i.received_at
LIMIT $2;

-- name: lock_calls_for_prune
-- The pipeline's per-call advisory locks (key 'entry:<entry_id>'), in a fixed
-- order, so no event of these calls is being applied while they are pruned.
SELECT count(pg_advisory_xact_lock(hashtextextended('entry:' || e, 0)))
FROM (SELECT DISTINCT e FROM unnest($1::text[]) AS u (e) WHERE e IS NOT NULL ORDER BY e) AS calls;

-- name: prune_inbox_batch
-- Under the calls' locks: check the candidates ($1) again, mark their calls as
-- pruned and delete them, in one statement. Returns how many of each.
WITH doomed AS (
    SELECT i.id, i.entry_id
    FROM inbox i
    WHERE i.id = ANY($1::bigint[]) AND i.received_at < $2
      AND (i.entry_id IS NULL OR (
            NOT EXISTS (SELECT 1 FROM communications c WHERE c.entry_id = i.entry_id AND NOT c.finished)
            AND NOT EXISTS (SELECT 1 FROM inbox newer
                            WHERE newer.entry_id = i.entry_id AND newer.received_at >= $2)))
), marked AS (
    INSERT INTO pruned_calls (entry_id)
    SELECT DISTINCT entry_id FROM doomed WHERE entry_id IS NOT NULL
    ON CONFLICT (entry_id) DO NOTHING
    RETURNING 1
), gone AS (
    DELETE FROM inbox i USING doomed d WHERE i.id = d.id
    RETURNING 1
)
SELECT (SELECT count(*) FROM gone) AS events, (SELECT count(*) FROM marked) AS calls;
