-- Named queries of the computed tags (daemon/leads/tags.py). Loaded once by daemon/store/queries.py.

-- name: tags_lock
-- One refresh at a time (the nightly timer and a hand-run one).
SELECT pg_advisory_xact_lock(hashtextextended('callbridge:tags-refresh', 0));

-- name: tags_detect_removals
-- A computed tag no longer in contacts.tags was removed by hand (the card, an
-- import, any path): remember that, so that the refresh does not put it back.
WITH gone AS (
    DELETE FROM contact_computed_tags ct
    USING contacts c
    WHERE c.id = ct.contact_id AND NOT (ct.tag = ANY (c.tags))
    RETURNING ct.contact_id, ct.tag
)
INSERT INTO contact_tag_removals (contact_id, tag, removed_by)
SELECT contact_id, tag, 'detected' FROM gone
ON CONFLICT (contact_id, tag) DO NOTHING;

-- name: tags_refresh
-- In one statement: every (contact, computed tag) that holds at $1 (now) for
-- active contacts, less those removed by hand ($2..$4: the three tag names; $5
-- minimum paid trips, $6 their months, $7 months of silence for «холодный»; $8, $9
-- the seed tags «Продажа через встречу» and «Платный подбор», $10, $11 their lost reasons);
-- computed tags whose condition ended leave contacts.tags, and wanted tags a
-- contact lacks are added and recorded as computed. A wanted tag the contact
-- already carries (set by hand, imported) stays the manager's own: not recorded.
WITH wanted AS (
    SELECT w.contact_id, w.tag FROM (
        SELECT t.contact_id, $2::text AS tag
        FROM trips t
        WHERE t.status = 'paid' AND t.contact_id IS NOT NULL
          AND t.starts_on >= ($1::timestamptz - make_interval(months => $6::int))::date
          AND t.starts_on <= $1::timestamptz::date
        GROUP BY t.contact_id
        HAVING count(*) >= $5::int
        UNION ALL
        SELECT c.id, $3::text
        FROM contacts c
        WHERE GREATEST(
                  (SELECT max(m.started_at) FROM communications m WHERE m.contact_id = c.id),
                  (SELECT max(GREATEST(t.starts_on, t.ends_on))::timestamptz FROM trips t
                   WHERE t.contact_id = c.id)
              ) < $1::timestamptz - make_interval(months => $7::int)
        UNION ALL
        SELECT DISTINCT i.contact_id, $4::text
        FROM contact_identifiers i
        WHERE i.do_not_call_since IS NOT NULL
        UNION ALL
        -- «Продажа через встречу»: two leads or more, none won, one lost as $10 («Нерешительный турист»).
        SELECT l.contact_id, $8::text
        FROM leads l
        WHERE l.status <> 'merged'
        GROUP BY l.contact_id
        HAVING count(*) >= 2 AND count(*) FILTER (WHERE l.status = 'won') = 0
           AND count(*) FILTER (WHERE l.status = 'lost' AND l.reason = $10::text) > 0
        UNION ALL
        -- «Платный подбор»: a lead lost as $11 («Купил в другом агентстве»): asked us, bought elsewhere.
        SELECT DISTINCT l.contact_id, $9::text
        FROM leads l
        WHERE l.status = 'lost' AND l.reason = $11::text
    ) w
    JOIN contacts c ON c.id = w.contact_id AND c.merged_into IS NULL AND c.removed_at IS NULL
    WHERE NOT EXISTS (SELECT 1 FROM contact_tag_removals r WHERE r.contact_id = w.contact_id AND r.tag = w.tag)
), stale AS (
    DELETE FROM contact_computed_tags ct
    WHERE NOT EXISTS (SELECT 1 FROM wanted w WHERE w.contact_id = ct.contact_id AND w.tag = ct.tag)
    RETURNING ct.contact_id, ct.tag
), missing AS (
    SELECT w.contact_id, w.tag FROM wanted w JOIN contacts c ON c.id = w.contact_id
    WHERE NOT (w.tag = ANY (c.tags))
), recorded AS (
    INSERT INTO contact_computed_tags (contact_id, tag)
    SELECT contact_id, tag FROM missing
    ON CONFLICT (contact_id, tag) DO NOTHING
), changes AS (
    SELECT contact_id,
           COALESCE(array_agg(tag ORDER BY tag) FILTER (WHERE adding), '{}') AS adds,
           COALESCE(array_agg(tag) FILTER (WHERE NOT adding), '{}') AS removes
    FROM (SELECT contact_id, tag, true AS adding FROM missing
          UNION ALL
          SELECT contact_id, tag, false FROM stale) AS x
    GROUP BY contact_id
)
UPDATE contacts c
SET tags = ARRAY(SELECT t FROM unnest(c.tags) AS t WHERE t <> ALL (ch.removes)) || ch.adds,
    updated_at = now()
FROM changes ch
WHERE c.id = ch.contact_id
RETURNING c.id, cardinality(ch.adds) AS added, cardinality(ch.removes) AS removed;

-- name: tag_remove_by_hand
-- A manager removes a tag from a contact: gone from contacts.tags, and never
-- computed back. Returns the contact's tags afterwards (no row: no such contact).
-- A merged contact's id names its survivor (contact_survivor), as lookups do.
WITH removal AS (
    INSERT INTO contact_tag_removals (contact_id, tag, removed_by)
    SELECT id, $2, $3 FROM contacts WHERE id = contact_survivor($1)
    ON CONFLICT (contact_id, tag) DO UPDATE SET removed_by = EXCLUDED.removed_by, removed_at = now()
), forgotten AS (
    DELETE FROM contact_computed_tags WHERE contact_id = contact_survivor($1) AND tag = $2
)
UPDATE contacts SET tags = array_remove(tags, $2), updated_at = now()
WHERE id = contact_survivor($1)
RETURNING tags;

-- name: tag_add_by_hand
-- A manager adds a tag: it is the manager's (not computed), and a removal of it is forgotten.
-- A merged contact's id names its survivor (contact_survivor), as lookups do.
WITH forgiven AS (
    DELETE FROM contact_tag_removals WHERE contact_id = contact_survivor($1) AND tag = $2
)
UPDATE contacts SET tags = CASE WHEN $2 = ANY (tags) THEN tags ELSE tags || $2::text END, updated_at = now()
WHERE id = contact_survivor($1)
RETURNING tags;
