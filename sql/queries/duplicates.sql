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
-- key) and a similar phone: 0.5 x pg_trgm's similarity() + 0.25 for the phone,
-- at least $4 similar. The phone comes first, since it is required anyway: the
-- contacts holding a phone with the same head or tail as one of this contact's
-- (the indexes of migration 0015) are a few, the similar names of a common one
-- thousands. So similarity() is compared, not %: with %, the planner took the
-- trigram index and read those thousands (0.9 s at 1,000,000 contacts).
-- The same responsible manager is no evidence.
WITH me AS (SELECT id, name_key FROM contacts WHERE id = contact_survivor($1)),
near AS (
    SELECT o.contact_id AS id
    FROM me
    JOIN contact_identifiers p ON p.contact_id = me.id AND p.kind = 'phone'
    JOIN contact_identifiers o ON o.kind = 'phone'
                              AND left(o.value, length(o.value) - 5) = left(p.value, length(p.value) - 5)
    WHERE contact_phone_digits_apart(p.value, o.value) <= $2
    UNION
    SELECT o.contact_id
    FROM me
    JOIN contact_identifiers p ON p.contact_id = me.id AND p.kind = 'phone'
    JOIN contact_identifiers o ON o.kind = 'phone'
                              AND left(o.value, length(o.value) - 10) || right(o.value, 5)
                                  = left(p.value, length(p.value) - 10) || right(p.value, 5)
    WHERE contact_phone_digits_apart(p.value, o.value) <= $2
), found AS (
    -- A sub-select per contact (a primary-key probe each): as a join, the planner
    -- misjudged the few near contacts and scanned all of them.
    SELECT n.id, (SELECT similarity(c.name_key, me.name_key) FROM contacts c
                  WHERE c.id = n.id AND c.merged_into IS NULL AND c.removed_at IS NULL) AS similarity
    FROM me
    JOIN near n ON n.id <> me.id
    WHERE NOT EXISTS (SELECT 1 FROM contact_not_duplicates x
                      WHERE x.contact_low = least(me.id, n.id) AND x.contact_high = greatest(me.id, n.id))
)
SELECT ARRAY[least(me.id, f.id), greatest(me.id, f.id)] AS contact_ids, 'name' AS reason,
       (0.5 * f.similarity + 0.25)::float8 AS score,
       jsonb_build_object('similarity', round(f.similarity::numeric, 2), 'similar_phone', true)::text AS evidence
FROM me, found f
WHERE f.similarity >= $4
ORDER BY score DESC, f.id
LIMIT $3;

-- name: has_pg_trgm
SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm');

-- name: mark_not_duplicates
-- Both contacts must exist; the pair is stored lower id first. Hints of the pair stay
-- (evidence is kept) but are never proposed again.
INSERT INTO contact_not_duplicates (contact_low, contact_high, marked_by)
SELECT least($1::bigint, $2::bigint), greatest($1::bigint, $2::bigint), $3
WHERE (SELECT count(*) FROM contacts WHERE id IN ($1, $2)) = 2
ON CONFLICT (contact_low, contact_high) DO UPDATE SET marked_by = EXCLUDED.marked_by
RETURNING contact_low, contact_high;
