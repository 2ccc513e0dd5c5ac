-- Named queries of duplicate candidates (daemon/contacts/duplicates.py).
-- A candidate is a pair of active contacts (lower id first) never marked "not a duplicate".

-- name: identifier_duplicates
-- Pairs the pipeline proved to be one person (contact_duplicate_hints).
SELECT ARRAY[h.contact_low, h.contact_high] AS contact_ids, 'identifier' AS reason,
       1.0::float8 AS score, h.evidence::text AS evidence
FROM contact_duplicate_hints h
JOIN contacts a ON a.id = h.contact_low AND a.merged_into IS NULL AND a.removed_at IS NULL
JOIN contacts b ON b.id = h.contact_high AND b.merged_into IS NULL AND b.removed_at IS NULL
WHERE NOT EXISTS (SELECT 1 FROM contact_not_duplicates n
                  WHERE n.contact_low = h.contact_low AND n.contact_high = h.contact_high)
ORDER BY h.created_at DESC
LIMIT $1;

-- name: identifier_duplicates_of_contact
SELECT ARRAY[h.contact_low, h.contact_high] AS contact_ids, 'identifier' AS reason,
       1.0::float8 AS score, h.evidence::text AS evidence
FROM contact_duplicate_hints h
JOIN contacts a ON a.id = h.contact_low AND a.merged_into IS NULL AND a.removed_at IS NULL
JOIN contacts b ON b.id = h.contact_high AND b.merged_into IS NULL AND b.removed_at IS NULL
WHERE (h.contact_low = $1 OR h.contact_high = $1)
  AND NOT EXISTS (SELECT 1 FROM contact_not_duplicates n
                  WHERE n.contact_low = h.contact_low AND n.contact_high = h.contact_high)
ORDER BY h.created_at DESC;

-- name: name_duplicates
-- Same normalised name (contacts.name_key: case, ё/е and word order ignored)
-- plus evidence: a shared responsible manager, or a similar phone: the same
-- length, at most $2 digits different, all among the last five digits or all
-- among the five before them. Pairs come from equi-joins only, so the work
-- grows with the pairs found, not with the square of a name's holders:
-- (name, manager), and (name, the phone but its last five digits) or
-- (name, country prefix and last five digits), hashed into one bigint key.
-- Only active contacts.
-- (No CTE over contacts alone: a CTE scan has no index, and a join to one went quadratic.)
WITH manager_pairs AS (
    SELECT a.id AS low, b.id AS high
    FROM contacts a
    JOIN contacts b ON b.name_key = a.name_key AND b.responsible_id = a.responsible_id AND b.id > a.id
    WHERE a.merged_into IS NULL AND a.removed_at IS NULL AND a.name_key IS NOT NULL
      AND b.merged_into IS NULL AND b.removed_at IS NULL
), halves AS (
    SELECT c.id, i.value,
           hashtextextended(c.name_key || '|' || CASE h.n
               WHEN 1 THEN left(i.value, length(i.value) - 5)
               ELSE '*' || left(i.value, length(i.value) - 10) || right(i.value, 5) END, 0) AS key
    FROM contacts c
    JOIN contact_identifiers i ON i.contact_id = c.id AND i.kind = 'phone'
    CROSS JOIN (VALUES (1), (2)) AS h (n)
    WHERE c.merged_into IS NULL AND c.removed_at IS NULL AND c.name_key IS NOT NULL
), phone_pairs AS (
    SELECT DISTINCT a.id AS low, b.id AS high
    FROM halves a
    JOIN halves b ON b.key = a.key AND b.id > a.id
    WHERE length(a.value) = length(b.value)
      AND (SELECT count(*) FROM generate_series(1, length(a.value)) AS i
           WHERE substr(a.value, i, 1) <> substr(b.value, i, 1)) <= $2
), pairs AS (
    SELECT low, high, bool_or(same_manager) AS same_manager, bool_or(similar_phone) AS similar_phone
    FROM (SELECT low, high, true AS same_manager, false AS similar_phone FROM manager_pairs
          UNION ALL
          SELECT low, high, false, true FROM phone_pairs) AS found
    GROUP BY low, high
)
SELECT ARRAY[p.low, p.high] AS contact_ids, 'name' AS reason,
       (0.5 + CASE WHEN p.same_manager THEN 0.25 ELSE 0 END
            + CASE WHEN p.similar_phone THEN 0.25 ELSE 0 END)::float8 AS score,
       jsonb_build_object('same_name', true, 'same_manager', p.same_manager,
                          'similar_phone', p.similar_phone)::text AS evidence
FROM pairs p
WHERE NOT EXISTS (SELECT 1 FROM contact_not_duplicates n WHERE n.contact_low = p.low AND n.contact_high = p.high)
  AND NOT EXISTS (SELECT 1 FROM contact_duplicate_hints h WHERE h.contact_low = p.low AND h.contact_high = p.high)
ORDER BY score DESC, p.low, p.high
LIMIT $1;

-- name: similar_names_of_contact
-- Candidates for one contact ($1) by similar name, with the same evidence as
-- name_duplicates: pg_trgm's % over contacts_name_key_trgm_idx (GIN), and
-- 0.5 x similarity() in the score; the threshold is pg_trgm.similarity_threshold,
-- set for the transaction. The name key is a sub-select (an InitPlan parameter)
-- so that the planner can put it into the index condition.
WITH me AS (SELECT id, name_key, responsible_id FROM contacts WHERE id = contact_survivor($1)),
found AS (
    SELECT c.id, similarity(c.name_key, me.name_key) AS similarity,
           me.responsible_id IS NOT NULL AND c.responsible_id = me.responsible_id AS same_manager,
           EXISTS (
               SELECT 1 FROM contact_identifiers pa
               JOIN contact_identifiers pb ON pb.contact_id = c.id AND pb.kind = 'phone'
                                          AND length(pb.value) = length(pa.value)
               WHERE pa.contact_id = me.id AND pa.kind = 'phone'
                 AND (left(pa.value, length(pa.value) - 5) = left(pb.value, length(pb.value) - 5)
                      OR left(pa.value, length(pa.value) - 10) || right(pa.value, 5)
                         = left(pb.value, length(pb.value) - 10) || right(pb.value, 5))
                 AND (SELECT count(*) FROM generate_series(1, length(pa.value)) AS i
                      WHERE substr(pa.value, i, 1) <> substr(pb.value, i, 1)) <= $2
           ) AS similar_phone
    FROM me
    JOIN contacts c ON c.name_key % (SELECT name_key FROM me) AND c.id <> me.id
                    AND c.merged_into IS NULL AND c.removed_at IS NULL
    WHERE NOT EXISTS (SELECT 1 FROM contact_not_duplicates n
                      WHERE n.contact_low = least(me.id, c.id) AND n.contact_high = greatest(me.id, c.id))
)
SELECT ARRAY[least(me.id, f.id), greatest(me.id, f.id)] AS contact_ids, 'name' AS reason,
       (0.5 * f.similarity + CASE WHEN f.same_manager THEN 0.25 ELSE 0 END
        + CASE WHEN f.similar_phone THEN 0.25 ELSE 0 END)::float8 AS score,
       jsonb_build_object('similarity', round(f.similarity::numeric, 2), 'same_manager', f.same_manager,
                          'similar_phone', f.similar_phone)::text AS evidence
FROM me, found f
WHERE f.same_manager OR f.similar_phone
ORDER BY score DESC, f.id
LIMIT $3;

-- name: same_names_of_contact
-- The same without pg_trgm (the embedded PostgreSQL has none): exact name_key only.
WITH me AS (SELECT id, name_key, responsible_id FROM contacts WHERE id = contact_survivor($1)),
found AS (
    SELECT c.id, 1.0::float4 AS similarity,
           me.responsible_id IS NOT NULL AND c.responsible_id = me.responsible_id AS same_manager,
           EXISTS (
               SELECT 1 FROM contact_identifiers pa
               JOIN contact_identifiers pb ON pb.contact_id = c.id AND pb.kind = 'phone'
                                          AND length(pb.value) = length(pa.value)
               WHERE pa.contact_id = me.id AND pa.kind = 'phone'
                 AND (left(pa.value, length(pa.value) - 5) = left(pb.value, length(pb.value) - 5)
                      OR left(pa.value, length(pa.value) - 10) || right(pa.value, 5)
                         = left(pb.value, length(pb.value) - 10) || right(pb.value, 5))
                 AND (SELECT count(*) FROM generate_series(1, length(pa.value)) AS i
                      WHERE substr(pa.value, i, 1) <> substr(pb.value, i, 1)) <= $2
           ) AS similar_phone
    FROM me
    JOIN contacts c ON c.name_key = (SELECT name_key FROM me) AND c.id <> me.id
                    AND c.merged_into IS NULL AND c.removed_at IS NULL
    WHERE NOT EXISTS (SELECT 1 FROM contact_not_duplicates n
                      WHERE n.contact_low = least(me.id, c.id) AND n.contact_high = greatest(me.id, c.id))
)
SELECT ARRAY[least(me.id, f.id), greatest(me.id, f.id)] AS contact_ids, 'name' AS reason,
       (0.5 * f.similarity + CASE WHEN f.same_manager THEN 0.25 ELSE 0 END
        + CASE WHEN f.similar_phone THEN 0.25 ELSE 0 END)::float8 AS score,
       jsonb_build_object('similarity', round(f.similarity::numeric, 2), 'same_manager', f.same_manager,
                          'similar_phone', f.similar_phone)::text AS evidence
FROM me, found f
WHERE f.same_manager OR f.similar_phone
ORDER BY score DESC, f.id
LIMIT $3;

-- name: set_work_mem
-- The whole-base candidate query hashes a few million rows; more memory keeps
-- its joins in hash tables instead of sorts on disk (this transaction only).
SELECT set_config('work_mem', $1::text, true);

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
