-- Named queries of duplicate candidates (daemon/contacts/duplicates.py).
-- A candidate is a pair of active contacts (lower id first) never marked "not a
-- duplicate"; the kept ones are in contact_duplicate_candidates (migration 0015),
-- which triggers keep up to date.

-- name: candidates_page
-- One page of the kept candidates (contact_duplicate_candidates, migration 0015),
-- best first: contact_duplicate_candidates_list_idx, or _reason_idx when $3 names
-- a reason. Both orders end in the pair, so pages never overlap.
SELECT ARRAY[contact_low, contact_high] AS contact_ids, reason, score, evidence::text AS evidence
FROM contact_duplicate_candidates
ORDER BY score DESC, contact_low, contact_high
LIMIT $1 OFFSET $2;

-- name: candidates_page_of_reason
SELECT ARRAY[contact_low, contact_high] AS contact_ids, reason, score, evidence::text AS evidence
FROM contact_duplicate_candidates
WHERE reason = $3
ORDER BY reason, score DESC, contact_low, contact_high
LIMIT $1 OFFSET $2;

-- name: candidates_total
-- (the table holds live pairs only: a count is the answer)
SELECT count(*) FROM contact_duplicate_candidates;

-- name: candidates_total_of_reason
SELECT count(*) FROM contact_duplicate_candidates WHERE reason = $1;

-- name: candidates_of_contact
-- The kept candidates naming one contact (the primary key and _high_idx).
SELECT ARRAY[contact_low, contact_high] AS contact_ids, reason, score, evidence::text AS evidence
FROM contact_duplicate_candidates WHERE contact_low = $1
UNION ALL
SELECT ARRAY[contact_low, contact_high], reason, score, evidence::text
FROM contact_duplicate_candidates WHERE contact_high = $1
ORDER BY score DESC, contact_ids;

-- name: candidates_flush
-- What a bulk writer queued (callbridge.candidates_deferred), recomputed at once.
SELECT contact_candidates_flush();

-- name: candidates_defer
-- This transaction only queues the contacts it touches (see contact_candidates_touch).
SELECT set_config('callbridge.candidates_deferred', 'on', true);

-- name: candidates_queue_all
-- Every active contact, and every one a kept pair names, for candidates_flush: a
-- repair, and the benchmark's loader (which writes contacts with triggers off).
INSERT INTO contact_candidates_dirty (contact_id)
SELECT id FROM contacts WHERE merged_into IS NULL AND removed_at IS NULL
UNION SELECT contact_low FROM contact_duplicate_candidates
UNION SELECT contact_high FROM contact_duplicate_candidates
ON CONFLICT DO NOTHING;

-- name: similar_names_of_contact
-- Candidates for one contact ($1) by a similar name (not only the same name
-- key) and a similar phone: pg_trgm's % over contacts_name_key_trgm_idx (GIN),
-- 0.5 x similarity() + 0.25 for the phone; the threshold is
-- pg_trgm.similarity_threshold, set for the transaction. The name key is a
-- sub-select (an InitPlan parameter) so that the planner can put it into the
-- index condition. The same responsible manager is no evidence.
WITH me AS (SELECT id, name_key FROM contacts WHERE id = contact_survivor($1)),
found AS (
    SELECT c.id, similarity(c.name_key, me.name_key) AS similarity
    FROM me
    JOIN contacts c ON c.name_key % (SELECT name_key FROM me) AND c.id <> me.id
                    AND c.merged_into IS NULL AND c.removed_at IS NULL
    WHERE NOT EXISTS (SELECT 1 FROM contact_not_duplicates n
                      WHERE n.contact_low = least(me.id, c.id) AND n.contact_high = greatest(me.id, c.id))
      AND EXISTS (
           SELECT 1 FROM contact_identifiers pa
           JOIN contact_identifiers pb ON pb.contact_id = c.id AND pb.kind = 'phone'
                                      AND length(pb.value) = length(pa.value)
           WHERE pa.contact_id = me.id AND pa.kind = 'phone'
             AND (left(pa.value, length(pa.value) - 5) = left(pb.value, length(pb.value) - 5)
                  OR left(pa.value, length(pa.value) - 10) || right(pa.value, 5)
                     = left(pb.value, length(pb.value) - 10) || right(pb.value, 5))
             AND contact_phone_digits_apart(pa.value, pb.value) <= $2)
)
SELECT ARRAY[least(me.id, f.id), greatest(me.id, f.id)] AS contact_ids, 'name' AS reason,
       (0.5 * f.similarity + 0.25)::float8 AS score,
       jsonb_build_object('similarity', round(f.similarity::numeric, 2), 'similar_phone', true)::text AS evidence
FROM me, found f
ORDER BY score DESC, f.id
LIMIT $3;

-- name: has_pg_trgm
SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm');

-- name: set_similarity_threshold
SELECT set_config('pg_trgm.similarity_threshold', $1::text, true);

-- name: mark_not_duplicates
-- Both contacts must exist; the pair is stored lower id first. Hints of the pair stay
-- (evidence is kept) but are never proposed again.
INSERT INTO contact_not_duplicates (contact_low, contact_high, marked_by)
SELECT least($1::bigint, $2::bigint), greatest($1::bigint, $2::bigint), $3
WHERE (SELECT count(*) FROM contacts WHERE id IN ($1, $2)) = 2
ON CONFLICT (contact_low, contact_high) DO UPDATE SET marked_by = EXCLUDED.marked_by
RETURNING contact_low, contact_high;
