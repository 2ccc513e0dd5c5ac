-- Duplicate candidates kept in a table, up to date as contacts change, so that
-- the list is read, not recomputed (daemon/contacts/duplicates.py).
--
-- A candidate is a pair of active contacts (lower id first), never marked "not
-- a duplicate", with one of two reasons:
-- * identifier (1.0): the pipeline or an import saw one inquiry or row carry
--   identifiers of both (contact_duplicate_hints);
-- * name (0.75): the same name key (case, ё/е and word order ignored) and a
--   similar phone: the same length, at most two digits different, all among the
--   last five or all among the five before them. The name alone is no evidence
--   (a common «Иванова Елена» is many people), a shared manager none at all.
--
-- Statement-level triggers with transition tables on every table the evidence
-- comes from hand the contacts a statement touched to contact_candidates_touch,
-- which recomputes their pairs in the same transaction (set-based, one call per
-- statement). A bulk writer (the contact import) sets callbridge.candidates_deferred
-- for its transactions: the touched contacts are only queued, and
-- contact_candidates_flush recomputes them all at its end with hash joins.
-- Two writes committed at the same moment each see the other's contacts as they
-- were: a pair they make together waits for the next write to either of them
-- (or `callbridge contacts duplicates --rebuild`).

CREATE TABLE contact_duplicate_candidates (
    contact_low    bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    contact_high   bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    reason         text NOT NULL CHECK (reason IN ('identifier', 'name')),
    score          double precision NOT NULL,
    evidence       jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (contact_low, contact_high),
    CHECK (contact_low < contact_high)
);
CREATE INDEX contact_duplicate_candidates_high_idx ON contact_duplicate_candidates (contact_high);
-- The list's two orders: all reasons, and one reason (?reason=).
CREATE INDEX contact_duplicate_candidates_list_idx
    ON contact_duplicate_candidates (score DESC, contact_low, contact_high);
CREATE INDEX contact_duplicate_candidates_reason_idx
    ON contact_duplicate_candidates (reason, score DESC, contact_low, contact_high);

-- Contacts whose candidates a bulk writer left to contact_candidates_flush.
CREATE TABLE contact_candidates_dirty (
    contact_id   bigint PRIMARY KEY
);

-- A phone's two "similar" keys, as expressions the probe below looks up by:
-- all but the last five digits, and the country prefix with the last five. At a
-- million contacts a head is shared by about 800 phones: the value and the
-- contact are in the index, so that comparing them reads no table page.
CREATE INDEX contact_identifiers_phone_head_idx
    ON contact_identifiers ((left(value, length(value) - 5)), value) INCLUDE (contact_id)
    WHERE kind = 'phone';
CREATE INDEX contact_identifiers_phone_tail_idx
    ON contact_identifiers ((left(value, length(value) - 10) || right(value, 5)), value) INCLUDE (contact_id)
    WHERE kind = 'phone';

-- How many of the last ten digits of two phones differ (99 when their lengths or
-- anything before those ten differ). One expression, so that PostgreSQL inlines
-- it: a loop over the digits, called for every key match of a whole base, took
-- ten times as long as the rest of the recompute.
CREATE FUNCTION contact_phone_digits_apart(a text, b text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN length(a) <> length(b) OR left(a, -10) <> left(b, -10) THEN 99 ELSE
          (substr(right(a, 10), 1, 1) <> substr(right(b, 10), 1, 1))::integer
        + (substr(right(a, 10), 2, 1) <> substr(right(b, 10), 2, 1))::integer
        + (substr(right(a, 10), 3, 1) <> substr(right(b, 10), 3, 1))::integer
        + (substr(right(a, 10), 4, 1) <> substr(right(b, 10), 4, 1))::integer
        + (substr(right(a, 10), 5, 1) <> substr(right(b, 10), 5, 1))::integer
        + (substr(right(a, 10), 6, 1) <> substr(right(b, 10), 6, 1))::integer
        + (substr(right(a, 10), 7, 1) <> substr(right(b, 10), 7, 1))::integer
        + (substr(right(a, 10), 8, 1) <> substr(right(b, 10), 8, 1))::integer
        + (substr(right(a, 10), 9, 1) <> substr(right(b, 10), 9, 1))::integer
        + (substr(right(a, 10), 10, 1) <> substr(right(b, 10), 10, 1))::integer
    END
$$;

-- The candidates of a few contacts ($1), found by index probes: hints naming
-- them, and phones with the same head or tail (the expression indexes above)
-- held by an active contact of the same name key.
CREATE FUNCTION contact_candidate_pairs(p_ids bigint[])
RETURNS TABLE (low bigint, high bigint, reason text, score double precision, evidence jsonb)
LANGUAGE sql STABLE AS $$
    WITH dirty AS (
        SELECT c.id, c.name_key FROM contacts c
        WHERE c.id = ANY (p_ids) AND c.merged_into IS NULL AND c.removed_at IS NULL
    ), hinted AS (
        SELECT h.contact_low, h.contact_high, h.evidence
        FROM contact_duplicate_hints h
        JOIN contacts a ON a.id = h.contact_low AND a.merged_into IS NULL AND a.removed_at IS NULL
        JOIN contacts b ON b.id = h.contact_high AND b.merged_into IS NULL AND b.removed_at IS NULL
        WHERE h.contact_low = ANY (p_ids) OR h.contact_high = ANY (p_ids)
    ), near AS (
        SELECT d.id AS a, d.name_key, p.value AS va, o.contact_id AS b, o.value AS vb
        FROM dirty d
        JOIN contact_identifiers p ON p.contact_id = d.id AND p.kind = 'phone'
        JOIN contact_identifiers o ON o.kind = 'phone'
                                  AND left(o.value, length(o.value) - 5) = left(p.value, length(p.value) - 5)
        WHERE d.name_key IS NOT NULL
        UNION ALL
        SELECT d.id, d.name_key, p.value, o.contact_id, o.value
        FROM dirty d
        JOIN contact_identifiers p ON p.contact_id = d.id AND p.kind = 'phone'
        JOIN contact_identifiers o ON o.kind = 'phone'
                                  AND left(o.value, length(o.value) - 10) || right(o.value, 5)
                                      = left(p.value, length(p.value) - 10) || right(p.value, 5)
        WHERE d.name_key IS NOT NULL
    ), named AS (
        SELECT DISTINCT least(n.a, n.b) AS low, greatest(n.a, n.b) AS high
        FROM near n
        JOIN contacts c ON c.id = n.b AND c.name_key = n.name_key AND c.merged_into IS NULL AND c.removed_at IS NULL
        WHERE n.a <> n.b AND length(n.va) = length(n.vb) AND contact_phone_digits_apart(n.va, n.vb) <= 2
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

-- Recompute the candidates of the contacts $1: pairs naming them that are no
-- longer found go, found ones are written (only when they differ: an unchanged
-- pair is not locked). PL/pgSQL, not SQL, and a generic plan from the first
-- call, so that the statement's plan is made once per connection: planning it
-- (10 ms) took longer than running it (under 1 ms).
CREATE FUNCTION contact_candidates_refresh(p_ids bigint[]) RETURNS void
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    WITH found AS MATERIALIZED (
        SELECT * FROM contact_candidate_pairs(p_ids)
    ), put AS (
        INSERT INTO contact_duplicate_candidates AS c (contact_low, contact_high, reason, score, evidence)
        SELECT low, high, reason, score, evidence FROM found ORDER BY low, high  -- one lock order
        ON CONFLICT (contact_low, contact_high) DO UPDATE
        SET reason = EXCLUDED.reason, score = EXCLUDED.score, evidence = EXCLUDED.evidence
        WHERE (c.reason, c.score, c.evidence) IS DISTINCT FROM (EXCLUDED.reason, EXCLUDED.score, EXCLUDED.evidence)
    )
    DELETE FROM contact_duplicate_candidates c
    WHERE (c.contact_low = ANY (p_ids) OR c.contact_high = ANY (p_ids))
      AND NOT EXISTS (SELECT 1 FROM found f WHERE f.low = c.contact_low AND f.high = c.contact_high);
END;
$$;

-- Every trigger below calls this with the contacts its statement touched.
CREATE FUNCTION contact_candidates_touch(p_ids bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF cardinality(p_ids) IS DISTINCT FROM 0 AND p_ids IS NOT NULL THEN
        IF current_setting('callbridge.candidates_deferred', true) = 'on' THEN
            INSERT INTO contact_candidates_dirty (contact_id)
            SELECT DISTINCT unnest(p_ids) ON CONFLICT DO NOTHING;
        ELSE
            PERFORM contact_candidates_refresh(p_ids);
        END IF;
    END IF;
END;
$$;

-- The queued contacts' candidates, all at once: every active named contact's
-- phone keys hashed (no per-contact probe), joined with the queued ones'.
-- The queue is locked so that a bulk writer still running waits for the end
-- of this transaction instead of queueing what it would not see.
CREATE FUNCTION contact_candidates_flush() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    queued bigint;
BEGIN
    LOCK TABLE contact_candidates_dirty IN EXCLUSIVE MODE;
    SELECT count(*) INTO queued FROM contact_candidates_dirty;
    IF queued = 0 THEN
        RETURN 0;
    END IF;
    -- After a bulk write the statistics are stale or absent: without them the
    -- planner compared every key with every other (minutes for 150,000 new contacts).
    ANALYZE contact_candidates_dirty;
    ANALYZE contacts;
    ANALYZE contact_identifiers;
    -- Each side of the key join is a few million rows at 1,000,000 contacts:
    -- sorted or hashed in memory, not on disk (this transaction only).
    PERFORM set_config('work_mem', '64MB', true);
    -- Materialized: inlined, the planner joined on the name alone and compared
    -- the phones of every pair of a name's holders (20 s instead of 2 at 100,000).
    WITH keys AS MATERIALIZED (
        SELECT c.id, c.name_key, i.value, hashtextextended(c.name_key || '|' || CASE h.n
                   WHEN 1 THEN left(i.value, length(i.value) - 5)
                   ELSE '*' || left(i.value, length(i.value) - 10) || right(i.value, 5) END, 0) AS key
        FROM contacts c
        JOIN contact_identifiers i ON i.contact_id = c.id AND i.kind = 'phone'
        CROSS JOIN (VALUES (1), (2)) AS h (n)
        WHERE c.merged_into IS NULL AND c.removed_at IS NULL AND c.name_key IS NOT NULL
    ), named AS (
        SELECT DISTINCT least(a.id, b.id) AS low, greatest(a.id, b.id) AS high
        FROM keys a
        JOIN keys b ON b.key = a.key AND b.name_key = a.name_key AND b.id <> a.id
        WHERE a.id IN (SELECT contact_id FROM contact_candidates_dirty)
          AND length(a.value) = length(b.value) AND contact_phone_digits_apart(a.value, b.value) <= 2
    ), hinted AS (
        SELECT h.contact_low, h.contact_high, h.evidence
        FROM contact_duplicate_hints h
        JOIN contacts a ON a.id = h.contact_low AND a.merged_into IS NULL AND a.removed_at IS NULL
        JOIN contacts b ON b.id = h.contact_high AND b.merged_into IS NULL AND b.removed_at IS NULL
        WHERE h.contact_low IN (SELECT contact_id FROM contact_candidates_dirty)
           OR h.contact_high IN (SELECT contact_id FROM contact_candidates_dirty)
    ), found AS MATERIALIZED (
        SELECT f.* FROM (
            SELECT contact_low AS low, contact_high AS high, 'identifier' AS reason, 1.0::float8 AS score, evidence
            FROM hinted
            UNION ALL
            SELECT n.low, n.high, 'name', 0.75::float8, '{"same_name": true, "similar_phone": true}'::jsonb
            FROM named n
            WHERE NOT EXISTS (SELECT 1 FROM hinted h WHERE h.contact_low = n.low AND h.contact_high = n.high)
        ) AS f
        WHERE NOT EXISTS (SELECT 1 FROM contact_not_duplicates x
                          WHERE x.contact_low = f.low AND x.contact_high = f.high)
    ), put AS (
        INSERT INTO contact_duplicate_candidates AS c (contact_low, contact_high, reason, score, evidence)
        SELECT low, high, reason, score, evidence FROM found ORDER BY low, high  -- one lock order
        ON CONFLICT (contact_low, contact_high) DO UPDATE
        SET reason = EXCLUDED.reason, score = EXCLUDED.score, evidence = EXCLUDED.evidence
        WHERE (c.reason, c.score, c.evidence) IS DISTINCT FROM (EXCLUDED.reason, EXCLUDED.score, EXCLUDED.evidence)
    )
    DELETE FROM contact_duplicate_candidates c
    WHERE (c.contact_low IN (SELECT contact_id FROM contact_candidates_dirty)
           OR c.contact_high IN (SELECT contact_id FROM contact_candidates_dirty))
      AND NOT EXISTS (SELECT 1 FROM found f WHERE f.low = c.contact_low AND f.high = c.contact_high);
    DELETE FROM contact_candidates_dirty;
    RETURN queued;
END;
$$;

-- The triggers: which contacts a statement touched, as far as candidates go.
CREATE FUNCTION contacts_candidates_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM contact_candidates_touch(ARRAY(SELECT id FROM new_rows WHERE name_key IS NOT NULL));
    ELSE
        PERFORM contact_candidates_touch(ARRAY(
            SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE (n.name_key, n.merged_into, n.removed_at) IS DISTINCT FROM (o.name_key, o.merged_into, o.removed_at)));
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION contact_identifiers_candidates_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM contact_candidates_touch(ARRAY(SELECT DISTINCT contact_id FROM new_rows WHERE kind = 'phone'));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM contact_candidates_touch(ARRAY(SELECT DISTINCT contact_id FROM old_rows WHERE kind = 'phone'));
    ELSE
        PERFORM contact_candidates_touch(ARRAY(
            SELECT n.contact_id FROM new_rows n JOIN old_rows o ON o.kind = n.kind AND o.value = n.value
            WHERE n.kind = 'phone' AND n.contact_id <> o.contact_id
            UNION
            SELECT o.contact_id FROM new_rows n JOIN old_rows o ON o.kind = n.kind AND o.value = n.value
            WHERE n.kind = 'phone' AND n.contact_id <> o.contact_id));
    END IF;
    RETURN NULL;
END;
$$;

-- For contact_duplicate_hints and contact_not_duplicates: both contacts of each pair.
CREATE FUNCTION contact_pairs_candidates_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM contact_candidates_touch(ARRAY(SELECT contact_low FROM new_rows
                                               UNION SELECT contact_high FROM new_rows));
    ELSE
        PERFORM contact_candidates_touch(ARRAY(SELECT contact_low FROM old_rows
                                               UNION SELECT contact_high FROM old_rows));
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER contacts_candidates_insert AFTER INSERT ON contacts
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION contacts_candidates_trigger();
CREATE TRIGGER contacts_candidates_update AFTER UPDATE ON contacts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contacts_candidates_trigger();
CREATE TRIGGER contact_identifiers_candidates_insert AFTER INSERT ON contact_identifiers
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION contact_identifiers_candidates_trigger();
CREATE TRIGGER contact_identifiers_candidates_update AFTER UPDATE ON contact_identifiers
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contact_identifiers_candidates_trigger();
CREATE TRIGGER contact_identifiers_candidates_delete AFTER DELETE ON contact_identifiers
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION contact_identifiers_candidates_trigger();
CREATE TRIGGER contact_duplicate_hints_candidates_insert AFTER INSERT ON contact_duplicate_hints
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION contact_pairs_candidates_trigger();
CREATE TRIGGER contact_duplicate_hints_candidates_delete AFTER DELETE ON contact_duplicate_hints
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION contact_pairs_candidates_trigger();
CREATE TRIGGER contact_not_duplicates_candidates_insert AFTER INSERT ON contact_not_duplicates
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION contact_pairs_candidates_trigger();
CREATE TRIGGER contact_not_duplicates_candidates_delete AFTER DELETE ON contact_not_duplicates
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION contact_pairs_candidates_trigger();

-- The candidates of the contacts that exist before this migration.
INSERT INTO contact_candidates_dirty (contact_id)
SELECT id FROM contacts WHERE merged_into IS NULL AND removed_at IS NULL;
SELECT contact_candidates_flush();
