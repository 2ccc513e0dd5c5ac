-- Named queries of `callbridge import contacts` (daemon/contacts/importer.py).
--
-- The file's rows are COPied into temporary tables of the importing session
-- (never WAL-logged, invisible to others, gone with the session), grouped into
-- people there, then applied in short transactions of a few hundred rows each:
-- set-based statements, bounded locks. See docs/ARCHITECTURE.md, "Contact import".

-- name: import_session_buffers
-- Room for the staging tables in this session's memory (PostgreSQL's default is
-- 8 MB); only possible before the session first touches a temporary table.
SET temp_buffers = '128MB';

-- The staging tables (daemon.contacts.import_store.STAGING_TABLES), one statement each
-- so that every named query can be prepared on its own.
-- name: import_staging_rows
-- One usable row (skipped rows go straight to import_outcomes). grp: the smallest
-- row number of the row's person (its connected component).
CREATE TEMPORARY TABLE import_rows (
    row_no       integer PRIMARY KEY,
    name         text,
    responsible  text,
    birthday     date,
    note         text,
    tags         text[] NOT NULL,
    notes        text[] NOT NULL,
    grp          integer NOT NULL,
    batch        integer
);

-- name: import_staging_keys
-- The row's valid identifiers, plus ('contact', id) for each contact already holding
-- one of them: rows are linked through shared keys.
CREATE TEMPORARY TABLE import_keys (
    row_no  integer NOT NULL,
    kind    text NOT NULL,
    value   text NOT NULL
);

-- name: import_staging_invalid
CREATE TEMPORARY TABLE import_invalid (
    row_no  integer NOT NULL,
    kind    text NOT NULL,
    value   text NOT NULL,
    reason  text NOT NULL
);

-- name: import_staging_outcomes
CREATE TEMPORARY TABLE import_outcomes (
    row_no      integer NOT NULL,
    outcome     text NOT NULL,
    contact_id  bigint,
    notes       text[] NOT NULL
);

-- name: import_staging_groups
-- One batch's people: the contact each becomes (target), and what changed.
CREATE TEMPORARY TABLE import_groups (
    grp             integer PRIMARY KEY,
    first_row       integer NOT NULL,
    owners          bigint[] NOT NULL,
    name            text,
    responsible     text,
    responsible_id  bigint,
    birthday        date,
    note            text,
    tags            text[] NOT NULL,
    target          bigint,
    created         boolean NOT NULL DEFAULT false,
    changed         boolean NOT NULL DEFAULT false
);

-- name: import_drop_staging
DROP TABLE IF EXISTS import_rows, import_keys, import_invalid, import_outcomes, import_groups;

-- After the COPY: indexes, owner keys and statistics (autovacuum never analyzes
-- temporary tables). Run in this order by ImportStore.group.
-- name: import_index_keys_by_value
CREATE INDEX ON import_keys (kind, value);

-- name: import_index_keys_by_row
CREATE INDEX ON import_keys (row_no);

-- name: import_index_invalid_by_row
CREATE INDEX ON import_invalid (row_no);

-- name: import_add_owner_keys
INSERT INTO import_keys (row_no, kind, value)
SELECT DISTINCT k.row_no, 'contact', ci.contact_id::text
FROM import_keys k
JOIN contact_identifiers ci ON ci.kind = k.kind AND ci.value = k.value;

-- name: import_analyze_staging
ANALYZE import_rows, import_keys, import_invalid;

-- name: import_hook
-- One round of min-label propagation: each row takes the smallest grp of any row
-- sharing a key with it. Returns how many rows moved.
WITH key_min AS (
    SELECT k.kind, k.value, min(r.grp) AS grp
    FROM import_keys k JOIN import_rows r ON r.row_no = k.row_no
    GROUP BY k.kind, k.value
    HAVING count(*) > 1
), row_min AS (
    SELECT k.row_no, min(m.grp) AS grp
    FROM import_keys k JOIN key_min m ON m.kind = k.kind AND m.value = k.value
    GROUP BY k.row_no
), moved AS (
    UPDATE import_rows r SET grp = m.grp
    FROM row_min m
    WHERE r.row_no = m.row_no AND m.grp < r.grp
    RETURNING 1
)
SELECT count(*) FROM moved;

-- name: import_jump
-- Pointer jumping: a row takes its group leader's grp, so long chains of rows
-- converge in a few rounds instead of one round per link.
WITH moved AS (
    UPDATE import_rows r SET grp = p.grp
    FROM import_rows p
    WHERE p.row_no = r.grp AND p.grp < r.grp
    RETURNING 1
)
SELECT count(*) FROM moved;

-- name: import_assign_batches
-- Whole groups per batch ($1 rows each, a larger group alone), in file order.
WITH sizes AS (
    SELECT grp, count(*) AS n FROM import_rows GROUP BY grp
), numbered AS (
    SELECT grp, ((sum(n) OVER (ORDER BY grp) - n) / $1::integer)::integer AS batch FROM sizes
)
UPDATE import_rows r SET batch = b.batch FROM numbered b WHERE r.grp = b.grp;

-- name: import_batches
SELECT DISTINCT batch FROM import_rows ORDER BY batch;

-- name: import_index_rows_by_group
CREATE INDEX ON import_rows (grp);

-- name: import_index_rows_by_batch
CREATE INDEX ON import_rows (batch);

-- name: import_analyze_rows
ANALYZE import_rows;

-- name: import_batch_begin
-- A batch's statements go to the server in one round trip (under a loaded CPU each
-- round trip waits to be scheduled), so they take their batch from the transaction.
SELECT set_config('callbridge.import_batch', $1::text, true),
       set_config('callbridge.import_source', $2::text, true);

-- name: import_lock_new_phones
-- The call pipeline creates a contact for an unknown caller under the advisory
-- lock phone:<e164>; taking the same locks for the phones this batch will add
-- (in one order, so that two imports cannot deadlock) means neither can add a
-- phone the other has just checked to be free. Phones already held need no lock.
SELECT count(pg_advisory_xact_lock(hashtextextended('phone:' || value, 0)))
FROM (
    SELECT DISTINCT k.value
    FROM import_rows r JOIN import_keys k ON k.row_no = r.row_no
    WHERE r.batch = current_setting('callbridge.import_batch')::integer AND k.kind = 'phone'
      -- A scalar probe, not NOT EXISTS: an anti join would sort every phone held
      -- (statistics lag behind a running import), once per batch.
      AND (SELECT ci.contact_id FROM contact_identifiers ci WHERE ci.kind = 'phone' AND ci.value = k.value) IS NULL
    ORDER BY k.value
) AS new_phones;

-- name: import_reset_groups
-- TRUNCATE, not DELETE: nothing vacuums a temporary table, and the dead rows of
-- every earlier batch would be read again by each later one.
TRUNCATE import_groups;

-- name: import_fill_groups
-- The batch's people, with the contacts that hold their identifiers now (after
-- the locks: a caller the pipeline has just created is seen), the first name,
-- responsible, birthday and note given in file order, and the union of the tags in
-- first-seen order.
INSERT INTO import_groups (grp, first_row, owners, name, responsible, birthday, note, tags)
SELECT r.grp, min(r.row_no),
       ARRAY(SELECT DISTINCT ci.contact_id
             FROM import_rows r2
             JOIN import_keys k ON k.row_no = r2.row_no
             JOIN contact_identifiers ci ON ci.kind = k.kind AND ci.value = k.value
             WHERE r2.grp = r.grp
             ORDER BY ci.contact_id),
       (array_agg(r.name ORDER BY r.row_no) FILTER (WHERE r.name IS NOT NULL))[1],
       (array_agg(r.responsible ORDER BY r.row_no) FILTER (WHERE r.responsible IS NOT NULL))[1],
       (array_agg(r.birthday ORDER BY r.row_no) FILTER (WHERE r.birthday IS NOT NULL))[1],
       (array_agg(r.note ORDER BY r.row_no) FILTER (WHERE r.note IS NOT NULL))[1],
       ARRAY(SELECT u.tag
             FROM import_rows r3, unnest(r3.tags) WITH ORDINALITY AS u(tag, i)
             WHERE r3.grp = r.grp
             GROUP BY u.tag
             ORDER BY min(r3.row_no), min(u.i))
FROM import_rows r
WHERE r.batch = current_setting('callbridge.import_batch')::integer
GROUP BY r.grp;

-- "Ответственный" is an extension (a manager made if unknown, as the pipeline
-- does) or a manager's name (compared by contact_name_key: case, ё/е and word
-- order ignored). A name no manager has becomes a manager known by name only
-- (no extension: nothing is routed to it until sync-managers finds the PBX
-- employee of that name); a name several managers share is no match, and text
-- with digits that is not an extension ("доб. 105") is no name.
-- name: import_add_managers
INSERT INTO managers (extension)
SELECT DISTINCT responsible FROM import_groups
WHERE responsible ~ '^[0-9]{1,10}$'
ORDER BY 1
ON CONFLICT (extension) DO NOTHING;

-- name: import_managers_by_extension
UPDATE import_groups g SET responsible_id = m.id
FROM managers m
WHERE g.responsible ~ '^[0-9]{1,10}$' AND m.extension = g.responsible;

-- name: import_add_named_managers
-- Uses managers_name_key_idx; managers_name_only_idx keeps one per name when two
-- imports run at once.
INSERT INTO managers (name)
SELECT DISTINCT ON (contact_name_key(g.responsible)) g.responsible
FROM import_groups g
WHERE g.responsible_id IS NULL AND g.responsible !~ '[0-9]' AND contact_name_key(g.responsible) IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM managers m WHERE m.name_key = contact_name_key(g.responsible))
ORDER BY contact_name_key(g.responsible), g.first_row
ON CONFLICT (name_key) WHERE extension IS NULL DO NOTHING;

-- name: import_managers_by_name
UPDATE import_groups g SET responsible_id = m.id
FROM (
    SELECT name_key, min(id) AS id
    FROM managers WHERE name_key IS NOT NULL
    GROUP BY name_key HAVING count(*) = 1
) m
WHERE g.responsible_id IS NULL AND g.responsible IS NOT NULL
  AND contact_name_key(g.responsible) = m.name_key;

-- The lowest-numbered holder is the person's contact; a person nobody holds gets a
-- new one, numbered in file order.
-- name: import_target_holders
UPDATE import_groups SET target = owners[1] WHERE cardinality(owners) > 0;

-- name: import_target_new
UPDATE import_groups g SET target = n.id, created = true
FROM (
    SELECT grp, nextval(pg_get_serial_sequence('contacts', 'id')) AS id
    FROM (SELECT grp FROM import_groups WHERE target IS NULL ORDER BY first_row) AS fresh
) n
WHERE g.grp = n.grp;

-- name: import_create_contacts
INSERT INTO contacts (id, name, responsible_id, birthday, note, tags)
SELECT target, name, responsible_id, birthday, note, tags FROM import_groups WHERE created ORDER BY target;

-- name: import_analyze_groups
-- Statistics for the statements that join the batch to contacts: without them the
-- planner guesses a large temporary table and scans contacts instead of probing it.
ANALYZE import_groups;

-- name: import_update_contacts
-- An existing contact keeps its non-empty values; blanks are filled and new tags
-- appended. Only a contact that would change is written (a re-import writes nothing).
WITH changed AS (
    UPDATE contacts c
    SET name = CASE WHEN COALESCE(c.name, '') = '' THEN g.name ELSE c.name END,
        responsible_id = COALESCE(c.responsible_id, g.responsible_id),
        birthday = COALESCE(c.birthday, g.birthday),
        note = CASE WHEN COALESCE(c.note, '') = '' THEN g.note ELSE c.note END,
        tags = c.tags || ARRAY(SELECT t FROM unnest(g.tags) AS t WHERE NOT t = ANY (c.tags)),
        updated_at = now()
    FROM import_groups g
    WHERE c.id = g.target AND NOT g.created
      AND ((COALESCE(c.name, '') = '' AND g.name IS NOT NULL)
           OR (c.responsible_id IS NULL AND g.responsible_id IS NOT NULL)
           OR (c.birthday IS NULL AND g.birthday IS NOT NULL)
           OR (COALESCE(c.note, '') = '' AND g.note IS NOT NULL)
           OR NOT g.tags <@ c.tags)
    RETURNING c.id
)
UPDATE import_groups g SET changed = true FROM changed WHERE g.target = changed.id;

-- name: import_add_identifiers
-- Every identifier of the person goes to its contact, unless someone holds it
-- already (a concurrent inquiry, or another existing contact): that one keeps it.
WITH wanted AS (
    SELECT DISTINCT ON (k.kind, k.value) k.kind, k.value, g.target
    FROM import_rows r
    JOIN import_keys k ON k.row_no = r.row_no
    JOIN import_groups g ON g.grp = r.grp
    WHERE r.batch = current_setting('callbridge.import_batch')::integer AND k.kind IN ('phone', 'email')
    ORDER BY k.kind, k.value
), added AS (
    INSERT INTO contact_identifiers (kind, value, contact_id)
    SELECT kind, value, target FROM wanted ORDER BY kind, value
    ON CONFLICT (kind, value) DO NOTHING
    RETURNING contact_id
)
UPDATE import_groups g SET changed = true
FROM (SELECT DISTINCT contact_id FROM added) a
WHERE g.target = a.contact_id AND NOT g.created;

-- name: import_add_invalid
WITH added AS (
    INSERT INTO contact_invalid_identifiers (contact_id, kind, value, reason)
    SELECT DISTINCT ON (g.target, i.kind, i.value) g.target, i.kind, i.value, i.reason
    FROM import_rows r
    JOIN import_invalid i ON i.row_no = r.row_no
    JOIN import_groups g ON g.grp = r.grp
    WHERE r.batch = current_setting('callbridge.import_batch')::integer
    ORDER BY g.target, i.kind, i.value, r.row_no
    ON CONFLICT (contact_id, kind, md5(value)) DO NOTHING
    RETURNING contact_id
)
UPDATE import_groups g SET changed = true
FROM (SELECT DISTINCT contact_id FROM added) a
WHERE g.target = a.contact_id AND NOT g.created;

-- name: import_hint_duplicates
-- A person whose identifiers two existing contacts hold: the import does not
-- merge them (that moves calls and leads, and is audited: `contacts merge`); it
-- records the pair as a duplicate candidate, unless marked "not a duplicate".
INSERT INTO contact_duplicate_hints (contact_low, contact_high, reason, evidence)
SELECT least(g.target, o.id), greatest(g.target, o.id), 'identifier',
       jsonb_build_object('source', 'import', 'file', current_setting('callbridge.import_source'), 'row', g.first_row)
FROM import_groups g
CROSS JOIN LATERAL unnest(g.owners[2:]) AS o(id)
JOIN contacts a ON a.id = g.target
JOIN contacts b ON b.id = o.id
WHERE cardinality(g.owners) > 1
  AND a.merged_into IS NULL AND a.removed_at IS NULL
  AND b.merged_into IS NULL AND b.removed_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM contact_not_duplicates n
                  WHERE n.contact_low = least(g.target, o.id) AND n.contact_high = greatest(g.target, o.id))
ON CONFLICT (contact_low, contact_high) DO NOTHING;

-- name: import_batch_outcomes
-- Each row of the batch: the first row of a person says what happened to its
-- contact, the others were merged into it; notes name identifiers left elsewhere.
SELECT r.row_no,
       CASE WHEN r.row_no <> g.first_row THEN 'merged into #' || g.target
            WHEN g.created THEN 'created'
            WHEN g.changed THEN 'updated #' || g.target
            ELSE 'merged into #' || g.target END AS outcome,
       g.target AS contact_id,
       r.notes
       || ARRAY(SELECT format('%s %s stays with contact #%s',
                              CASE k.kind WHEN 'phone' THEN 'phone' ELSE 'e-mail' END, k.value, ci.contact_id)
                FROM import_keys k
                JOIN contact_identifiers ci ON ci.kind = k.kind AND ci.value = k.value
                WHERE k.row_no = r.row_no AND k.kind IN ('phone', 'email') AND ci.contact_id <> g.target
                ORDER BY k.kind DESC, k.value)
       || CASE WHEN r.row_no = g.first_row AND g.responsible IS NOT NULL AND g.responsible_id IS NULL
               THEN ARRAY[CASE WHEN g.responsible ~ '[0-9]' OR contact_name_key(g.responsible) IS NULL
                               THEN format('responsible %s is neither an extension nor a name', g.responsible)
                               ELSE format('responsible %s names several managers: give the extension',
                                           g.responsible) END]
               ELSE '{}'::text[] END AS notes
FROM import_rows r
JOIN import_groups g ON g.grp = r.grp
WHERE r.batch = current_setting('callbridge.import_batch')::integer
ORDER BY r.row_no;

-- name: import_report_rows
SELECT row_no, outcome, contact_id, notes
FROM import_outcomes
ORDER BY row_no;
