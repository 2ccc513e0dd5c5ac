-- Contacts: merge with an audit trail and undo, duplicates, hygiene.

-- The journal of merges. One row per merge (who, when, why), and one row per
-- row it touched in contact_merge_rows: the values it replaced (before) and the
-- values it wrote (after), so that an undo can restore the first and refuse
-- when a row no longer holds the second.
CREATE TABLE contact_merges (
    id            bigserial PRIMARY KEY,
    survivor_id   bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    merged_ids    bigint[] NOT NULL,
    actor         text NOT NULL,
    reason        text NOT NULL DEFAULT '',
    moved         jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    undone_at     timestamptz,
    undone_by     text,
    undo_forced   boolean NOT NULL DEFAULT false
);
CREATE INDEX contact_merges_survivor_idx ON contact_merges (survivor_id);
CREATE INDEX contact_merges_created_idx ON contact_merges (created_at);

CREATE TABLE contact_merge_rows (
    merge_id     bigint NOT NULL REFERENCES contact_merges (id) ON DELETE CASCADE,
    table_name   text NOT NULL,
    row_key      jsonb NOT NULL,
    -- update: before/after hold the columns the merge wrote; delete: before is
    -- the whole row; insert: after is the whole row.
    action       text NOT NULL CHECK (action IN ('update', 'delete', 'insert')),
    before       jsonb,
    after        jsonb,
    PRIMARY KEY (merge_id, table_name, row_key)
);

-- The name as duplicates are found by: lower case, ё = е, punctuation dropped,
-- words sorted (word order ignored). IMMUTABLE so that it can be a stored
-- generated column: every writer of contacts (pipeline, importer, screen) keeps it.
CREATE FUNCTION contact_name_key(name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT NULLIF(array_to_string(ARRAY(
        SELECT w FROM regexp_split_to_table(translate(lower(name), 'ё', 'е'), '[^[:alnum:]]+') AS w
        WHERE w <> '' ORDER BY w COLLATE "C"), ' '), '')
$$;

ALTER TABLE contacts ADD COLUMN name_key text GENERATED ALWAYS AS (contact_name_key(name)) STORED;
CREATE INDEX contacts_name_key_idx ON contacts (name_key) WHERE merged_into IS NULL AND removed_at IS NULL;

-- pg_trgm for similar names. The embedded PostgreSQL (pgserver) ships without
-- it, so it is optional: without it, name duplicates are exact name_key matches only.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
        CREATE INDEX contacts_name_key_trgm_idx ON contacts USING gin (name_key gin_trgm_ops)
            WHERE merged_into IS NULL AND removed_at IS NULL;
    END IF;
END;
$$;

-- Lookups by id follow merged_into to the survivor (a merge chain ends at an
-- active contact; the depth bound guards against a cycle written by hand).
CREATE FUNCTION contact_survivor(contact bigint) RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH RECURSIVE chain (id, merged_into, depth) AS (
        SELECT id, merged_into, 0 FROM contacts WHERE id = contact
        UNION ALL
        SELECT c.id, c.merged_into, chain.depth + 1
        FROM chain JOIN contacts c ON c.id = chain.merged_into
        WHERE chain.depth < 100
    )
    SELECT id FROM chain ORDER BY depth DESC LIMIT 1
$$;

-- Trips arrive with the lead-lifecycle work (a trips table with contact_id).
-- These functions name that table in PL/pgSQL, which plans a statement only
-- when it runs, so every named query still prepares before the table exists.
CREATE FUNCTION contact_has_trips(p_contact bigint) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF to_regclass('trips') IS NULL THEN
        RETURN false;
    END IF;
    RETURN EXISTS (SELECT 1 FROM trips t WHERE t.contact_id = p_contact);
END;
$$;

CREATE FUNCTION contact_merge_trips(p_merge bigint, p_survivor bigint, p_merged bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO contact_merge_rows (merge_id, table_name, row_key, action, before, after)
    SELECT p_merge, 'trips', jsonb_build_object('id', t.id), 'update',
           jsonb_build_object('contact_id', t.contact_id), jsonb_build_object('contact_id', p_survivor)
    FROM trips t WHERE t.contact_id = ANY(p_merged);
    UPDATE trips t SET contact_id = p_survivor WHERE t.contact_id = ANY(p_merged);
END;
$$;

CREATE FUNCTION contact_merge_trip_conflicts(p_merge bigint) RETURNS SETOF jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT j.row_key FROM contact_merge_rows j
    LEFT JOIN trips t ON t.id = (j.row_key->>'id')::bigint
    WHERE j.merge_id = p_merge AND j.table_name = 'trips'
      AND (t.id IS NULL OR t.contact_id IS DISTINCT FROM (j.after->>'contact_id')::bigint);
END;
$$;

CREATE FUNCTION contact_restore_trips(p_merge bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE trips t SET contact_id = (j.before->>'contact_id')::bigint
    FROM contact_merge_rows j
    WHERE j.merge_id = p_merge AND j.table_name = 'trips' AND t.id = (j.row_key->>'id')::bigint;
END;
$$;
