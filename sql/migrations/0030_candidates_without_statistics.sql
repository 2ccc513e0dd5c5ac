-- A contact's duplicate probe that keeps its plan when the tables have no statistics.
--
-- contact_candidate_pairs (0015) is run by the triggers for every contact a statement
-- touches. Its plan depends on the statistics: with none (a base grown from empty by
-- webhooks, on a server whose autovacuum is off or has not come by yet), PostgreSQL
-- takes «merged_into IS NULL AND removed_at IS NULL» for one row in a thousand, walks
-- every contact as «a», every contact again as «b» and probes the hints for each pair:
-- 2.4 s for one new contact at 1,700 contacts, 2.8 million hint probes, and every
-- other webhook waiting on its locks (docs/BENCHMARKS.md, «Messenger webhooks»).
--
-- Here every part starts from the contacts asked about ($1), materialized, so that
-- whatever the planner believes of the tables it can only probe them from those few:
-- the hints by either end (two index lookups, not an OR over the whole table), then
-- each end's contact by its key. The result is the same rows as before
-- (tests/integration/test_contacts_duplicates.py, tests/integration/test_candidates_plans.py).
--
-- Replaced in place, not versioned (migration 0018's rule is for the functions the
-- daemon's code calls; this one is called only by the database's own triggers, and
-- a daemon of the previous release gets the same rows from it).

CREATE OR REPLACE FUNCTION contact_candidate_pairs(p_ids bigint[])
RETURNS TABLE (low bigint, high bigint, reason text, score double precision, evidence jsonb)
LANGUAGE sql STABLE AS $$
    WITH ids AS MATERIALIZED (
        SELECT DISTINCT id FROM unnest(p_ids) AS u (id) WHERE id IS NOT NULL
    ), dirty AS MATERIALIZED (
        SELECT c.id, c.name_key
        FROM ids JOIN contacts c ON c.id = ids.id
        WHERE c.merged_into IS NULL AND c.removed_at IS NULL
    ), hint_rows AS MATERIALIZED (
        SELECT h.contact_low, h.contact_high, h.evidence
        FROM ids JOIN contact_duplicate_hints h ON h.contact_low = ids.id
        UNION
        SELECT h.contact_low, h.contact_high, h.evidence
        FROM ids JOIN contact_duplicate_hints h ON h.contact_high = ids.id
    ), hinted AS MATERIALIZED (
        SELECT h.contact_low, h.contact_high, h.evidence
        FROM hint_rows h
        WHERE EXISTS (SELECT 1 FROM contacts a
                      WHERE a.id = h.contact_low AND a.merged_into IS NULL AND a.removed_at IS NULL)
          AND EXISTS (SELECT 1 FROM contacts b
                      WHERE b.id = h.contact_high AND b.merged_into IS NULL AND b.removed_at IS NULL)
    ), phones AS MATERIALIZED (
        SELECT d.id, d.name_key, p.value
        FROM dirty d
        JOIN contact_identifiers p ON p.contact_id = d.id AND p.kind = 'phone'
        WHERE d.name_key IS NOT NULL
    ), near AS MATERIALIZED (
        SELECT p.id AS a, p.name_key, p.value AS va, o.contact_id AS b, o.value AS vb
        FROM phones p
        JOIN contact_identifiers o ON o.kind = 'phone'
                                  AND left(o.value, length(o.value) - 5) = left(p.value, length(p.value) - 5)
        UNION ALL
        SELECT p.id, p.name_key, p.value, o.contact_id, o.value
        FROM phones p
        JOIN contact_identifiers o ON o.kind = 'phone'
                                  AND left(o.value, length(o.value) - 10) || right(o.value, 5)
                                      = left(p.value, length(p.value) - 10) || right(p.value, 5)
    ), named AS (
        SELECT DISTINCT least(n.a, n.b) AS low, greatest(n.a, n.b) AS high
        FROM near n
        WHERE n.a <> n.b AND length(n.va) = length(n.vb) AND contact_phone_digits_apart(n.va, n.vb) <= 2
          AND EXISTS (SELECT 1 FROM contacts c
                      WHERE c.id = n.b AND c.name_key = n.name_key AND c.merged_into IS NULL AND c.removed_at IS NULL)
    ), found AS (
        SELECT contact_low AS low, contact_high AS high, 'identifier' AS reason, 1.0::float8 AS score, evidence
        FROM hinted
        UNION ALL
        SELECT n.low, n.high, 'name', 0.75::float8, '{"same_name": true, "similar_phone": true}'::jsonb
        FROM named n
        WHERE NOT EXISTS (SELECT 1 FROM hinted h WHERE h.contact_low = n.low AND h.contact_high = n.high)
    )
    SELECT f.* FROM found f
    WHERE NOT EXISTS (SELECT 1 FROM contact_not_duplicates x WHERE x.contact_low = f.low AND x.contact_high = f.high)
$$;
