-- Named queries of contact merges and their undo (daemon/contacts/merge.py, undo.py).
-- Every merge step is: journal the columns it is about to write (before), write
-- them, then journal what it wrote (after). Undo restores `before` and refuses
-- when a row no longer holds `after`.

-- name: merge_group_contacts
-- The contacts of a merge, without locks: checked before any lock is taken.
SELECT id, merged_into, removed_at FROM contacts WHERE id = ANY($1::bigint[]);

-- name: merge_lock_phones
-- The pipeline's per-phone advisory locks (daemon/intake/pipeline.py) in the one order
-- (callbridge_lock_v1), so that a call being linked to one of these contacts
-- finishes first (or waits). Keys the caller already holds ($2) are skipped.
SELECT callbridge_lock_v1(ARRAY(
    SELECT 'phone:' || value FROM contact_identifiers
    WHERE contact_id = ANY($1::bigint[]) AND kind = 'phone'
    EXCEPT SELECT unnest($2::text[])));

-- name: merge_lock_rows
-- Then the rows, each table sorted by id, contacts last: the fixed order that
-- lets concurrent merges (and the pipeline, which locks a call's communication
-- before its contact) run without deadlock.
WITH comms AS (
    SELECT id FROM communications WHERE contact_id = ANY($1::bigint[]) ORDER BY id FOR UPDATE
), lds AS (
    SELECT id FROM leads WHERE contact_id = ANY($1::bigint[]) ORDER BY id FOR UPDATE
)
SELECT (SELECT count(*) FROM comms) + (SELECT count(*) FROM lds);

-- name: merge_lock_contacts
SELECT id, merged_into, removed_at FROM contacts
WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE;

-- name: merge_open_leads
-- Open leads of the group, the oldest first: it survives.
SELECT id FROM leads WHERE contact_id = ANY($1::bigint[]) AND status = 'open' ORDER BY created_at, id;

-- name: insert_merge
INSERT INTO contact_merges (survivor_id, merged_ids, actor, reason)
VALUES ($1, $2::bigint[], $3, $4)
RETURNING id, created_at;

-- name: finish_merge
UPDATE contact_merges SET moved = $2::jsonb WHERE id = $1;

-- name: journal_identifiers
INSERT INTO contact_merge_rows (merge_id, table_name, row_key, action, before)
SELECT $1, 'contact_identifiers', jsonb_build_object('kind', kind, 'value', value), 'update',
       jsonb_build_object('contact_id', contact_id)
FROM contact_identifiers WHERE contact_id = ANY($2::bigint[]);

-- name: move_identifiers
-- Do-not-call marks travel with the row: they are columns of it.
UPDATE contact_identifiers SET contact_id = $1 WHERE contact_id = ANY($2::bigint[]);

-- name: journal_invalid_identifiers_dropped
-- The same invalid text on two contacts of the group: the survivor's (else the
-- oldest row) is kept, the others are deleted, whole rows journaled.
INSERT INTO contact_merge_rows (merge_id, table_name, row_key, action, before)
SELECT $1, 'contact_invalid_identifiers', jsonb_build_object('id', d.id), 'delete', to_jsonb(d)
FROM contact_invalid_identifiers d
WHERE d.contact_id = ANY($3::bigint[])
  AND EXISTS (SELECT 1 FROM contact_invalid_identifiers k
              WHERE k.kind = d.kind AND k.value = d.value
                AND (k.contact_id = $2 OR (k.contact_id = ANY($3::bigint[]) AND k.id < d.id)));

-- name: drop_journaled_invalid_identifiers
DELETE FROM contact_invalid_identifiers
WHERE id IN (SELECT (row_key->>'id')::bigint FROM contact_merge_rows
             WHERE merge_id = $1 AND table_name = 'contact_invalid_identifiers' AND action = 'delete');

-- name: journal_invalid_identifiers
INSERT INTO contact_merge_rows (merge_id, table_name, row_key, action, before)
SELECT $1, 'contact_invalid_identifiers', jsonb_build_object('id', id), 'update',
       jsonb_build_object('contact_id', contact_id)
FROM contact_invalid_identifiers WHERE contact_id = ANY($2::bigint[]);

-- name: move_invalid_identifiers
UPDATE contact_invalid_identifiers SET contact_id = $1 WHERE contact_id = ANY($2::bigint[]);

-- name: journal_communications
-- The merged contacts' communications, and the survivor's that belong to a lead being closed.
INSERT INTO contact_merge_rows (merge_id, table_name, row_key, action, before)
SELECT $1, 'communications', jsonb_build_object('id', id), 'update',
       jsonb_build_object('contact_id', contact_id, 'lead_id', lead_id)
FROM communications WHERE contact_id = ANY($2::bigint[]) OR lead_id = ANY($3::bigint[]);

-- name: move_communications
-- $1 survivor, $2 merged contacts, $3 closed leads, $4 the surviving lead.
UPDATE communications
SET contact_id = CASE WHEN contact_id = ANY($2::bigint[]) THEN $1 ELSE contact_id END,
    lead_id = CASE WHEN lead_id = ANY($3::bigint[]) THEN $4 ELSE lead_id END
WHERE contact_id = ANY($2::bigint[]) OR lead_id = ANY($3::bigint[]);

-- name: journal_leads
INSERT INTO contact_merge_rows (merge_id, table_name, row_key, action, before)
SELECT $1, 'leads', jsonb_build_object('id', id), 'update',
       jsonb_build_object('contact_id', contact_id, 'status', status, 'closed_at', closed_at, 'reason', reason)
FROM leads WHERE contact_id = ANY($2::bigint[]) OR id = ANY($3::bigint[]);

-- name: close_merged_leads
-- First close, then move: at no moment may a contact hold two open leads.
UPDATE leads SET status = 'merged', closed_at = now(), reason = 'merged into lead #' || $2::bigint
WHERE id = ANY($1::bigint[]);

-- name: move_leads
UPDATE leads SET contact_id = $1 WHERE contact_id = ANY($2::bigint[]);

-- Pairs naming a merged contact are re-pointed at the survivor (a pair of the
-- survivor and a merged contact is fulfilled and dropped): the old rows are
-- deleted and the new ones inserted, both journaled whole. A deleted pair always
-- names a merged contact and an inserted one never does, so their keys differ.
-- name: repoint_hints
WITH dropped AS (
    DELETE FROM contact_duplicate_hints
    WHERE contact_low = ANY($2::bigint[]) OR contact_high = ANY($2::bigint[])
    RETURNING *
), repointed AS (
    SELECT DISTINCT ON (lo, hi) lo, hi, reason, evidence, created_at
    FROM (SELECT least(a, b) AS lo, greatest(a, b) AS hi, reason, evidence, created_at
          FROM (SELECT CASE WHEN contact_low = ANY($2::bigint[]) THEN $3 ELSE contact_low END AS a,
                       CASE WHEN contact_high = ANY($2::bigint[]) THEN $3 ELSE contact_high END AS b,
                       reason, evidence, created_at FROM dropped) AS p
          WHERE a <> b) AS q
    ORDER BY lo, hi, created_at
), added AS (
    INSERT INTO contact_duplicate_hints (contact_low, contact_high, reason, evidence, created_at)
    SELECT lo, hi, reason, evidence, created_at FROM repointed
    ON CONFLICT (contact_low, contact_high) DO NOTHING
    RETURNING *
), journal_dropped AS (
    INSERT INTO contact_merge_rows (merge_id, table_name, row_key, action, before)
    SELECT $1, 'contact_duplicate_hints', jsonb_build_object('contact_low', contact_low, 'contact_high', contact_high),
           'delete', to_jsonb(dropped)
    FROM dropped
)
INSERT INTO contact_merge_rows (merge_id, table_name, row_key, action, after)
SELECT $1, 'contact_duplicate_hints', jsonb_build_object('contact_low', contact_low, 'contact_high', contact_high),
       'insert', to_jsonb(added)
FROM added;

-- name: repoint_not_duplicates
WITH dropped AS (
    DELETE FROM contact_not_duplicates
    WHERE contact_low = ANY($2::bigint[]) OR contact_high = ANY($2::bigint[])
    RETURNING *
), repointed AS (
    SELECT DISTINCT ON (lo, hi) lo, hi, marked_by, created_at
    FROM (SELECT least(a, b) AS lo, greatest(a, b) AS hi, marked_by, created_at
          FROM (SELECT CASE WHEN contact_low = ANY($2::bigint[]) THEN $3 ELSE contact_low END AS a,
                       CASE WHEN contact_high = ANY($2::bigint[]) THEN $3 ELSE contact_high END AS b,
                       marked_by, created_at FROM dropped) AS p
          WHERE a <> b) AS q
    ORDER BY lo, hi, created_at
), added AS (
    INSERT INTO contact_not_duplicates (contact_low, contact_high, marked_by, created_at)
    SELECT lo, hi, marked_by, created_at FROM repointed
    ON CONFLICT (contact_low, contact_high) DO NOTHING
    RETURNING *
), journal_dropped AS (
    INSERT INTO contact_merge_rows (merge_id, table_name, row_key, action, before)
    SELECT $1, 'contact_not_duplicates', jsonb_build_object('contact_low', contact_low, 'contact_high', contact_high),
           'delete', to_jsonb(dropped)
    FROM dropped
)
INSERT INTO contact_merge_rows (merge_id, table_name, row_key, action, after)
SELECT $1, 'contact_not_duplicates', jsonb_build_object('contact_low', contact_low, 'contact_high', contact_high),
       'insert', to_jsonb(added)
FROM added;

-- name: journal_contacts
INSERT INTO contact_merge_rows (merge_id, table_name, row_key, action, before)
SELECT $1, 'contacts', jsonb_build_object('id', id), 'update',
       jsonb_build_object('name', name, 'responsible_id', responsible_id, 'ad_source', ad_source,
                          'tags', tags, 'merged_into', merged_into, 'updated_at', updated_at,
                          'birthday', birthday, 'note', note)
FROM contacts WHERE id = ANY($2::bigint[]);

-- name: fill_survivor
-- The survivor keeps its non-empty fields and takes the others' (first given
-- first) where it has none; tags are united.
WITH others AS (
    SELECT c.* FROM unnest($2::bigint[]) WITH ORDINALITY AS m (id, pos)
    JOIN contacts c ON c.id = m.id ORDER BY m.pos
)
UPDATE contacts s SET
    name = COALESCE(NULLIF(btrim(s.name), ''), (SELECT o.name FROM others o WHERE NULLIF(btrim(o.name), '') IS NOT NULL LIMIT 1)),
    responsible_id = COALESCE(s.responsible_id, (SELECT o.responsible_id FROM others o WHERE o.responsible_id IS NOT NULL LIMIT 1)),
    ad_source = COALESCE(NULLIF(s.ad_source, ''), (SELECT o.ad_source FROM others o WHERE NULLIF(o.ad_source, '') IS NOT NULL LIMIT 1)),
    tags = ARRAY(SELECT DISTINCT t FROM unnest(s.tags || ARRAY(SELECT unnest(o.tags) FROM others o)) AS t ORDER BY t),
    birthday = COALESCE(s.birthday, (SELECT o.birthday FROM others o WHERE o.birthday IS NOT NULL LIMIT 1)),
    note = COALESCE(NULLIF(btrim(s.note), ''), (SELECT o.note FROM others o WHERE NULLIF(btrim(o.note), '') IS NOT NULL LIMIT 1)),
    updated_at = now()
WHERE s.id = $1;

-- name: mark_merged
UPDATE contacts SET merged_into = $1, updated_at = now() WHERE id = ANY($2::bigint[]);

-- name: journal_after
-- What each journaled row holds now that the merge wrote it.
UPDATE contact_merge_rows r SET after = CASE r.table_name
    WHEN 'contact_identifiers' THEN (SELECT jsonb_build_object('contact_id', i.contact_id) FROM contact_identifiers i
                                     WHERE i.kind = r.row_key->>'kind' AND i.value = r.row_key->>'value')
    WHEN 'contact_invalid_identifiers' THEN (SELECT jsonb_build_object('contact_id', v.contact_id)
                                             FROM contact_invalid_identifiers v WHERE v.id = (r.row_key->>'id')::bigint)
    WHEN 'communications' THEN (SELECT jsonb_build_object('contact_id', c.contact_id, 'lead_id', c.lead_id)
                                FROM communications c WHERE c.id = (r.row_key->>'id')::bigint)
    WHEN 'leads' THEN (SELECT jsonb_build_object('contact_id', l.contact_id, 'status', l.status,
                                                 'closed_at', l.closed_at, 'reason', l.reason)
                       FROM leads l WHERE l.id = (r.row_key->>'id')::bigint)
    WHEN 'contacts' THEN (SELECT jsonb_build_object('name', c.name, 'responsible_id', c.responsible_id,
                                                    'ad_source', c.ad_source, 'tags', c.tags,
                                                    'merged_into', c.merged_into, 'updated_at', c.updated_at,
                                                    'birthday', c.birthday, 'note', c.note)
                          FROM contacts c WHERE c.id = (r.row_key->>'id')::bigint)
    WHEN 'lead_wishes' THEN (SELECT jsonb_build_object('parsed', w.parsed, 'edited', w.edited)
                             FROM lead_wishes w WHERE w.lead_id = (r.row_key->>'lead_id')::bigint)
    END
-- (trips: contact_merge_trips writes theirs; it can name that table only where it exists)
WHERE r.merge_id = $1 AND r.action = 'update' AND r.table_name <> 'trips';

-- name: merge_journal_counts
SELECT table_name, count(*) AS n FROM contact_merge_rows
WHERE merge_id = $1 AND action = 'update' GROUP BY table_name;

-- name: trips_have_contacts
-- Trips arrive with the lead-lifecycle work; until then there is nothing to move.
SELECT to_regclass('trips') IS NOT NULL AND EXISTS (
    SELECT 1 FROM information_schema.columns
    WHERE table_schema = current_schema() AND table_name = 'trips' AND column_name = 'contact_id');

-- name: undo_lock_merge
SELECT id, survivor_id, merged_ids, undone_at FROM contact_merges WHERE id = $1 FOR UPDATE;

-- name: undo_has_trips
SELECT EXISTS (SELECT 1 FROM contact_merge_rows WHERE merge_id = $1 AND table_name = 'trips');

-- name: undo_conflicts
-- Rows the merge wrote that no longer hold what it wrote (or are gone). Only
-- the columns the merge changed (before <> after) count: a lead won since, a
-- renamed survivor whose name the merge kept, are not the merge's business.
-- contacts.updated_at is restored but never compared.
WITH j AS (SELECT *, (before->'contact_id') IS DISTINCT FROM (after->'contact_id') AS owner_moved
           FROM contact_merge_rows WHERE merge_id = $1 AND action = 'update')
SELECT j.table_name, j.row_key FROM j
LEFT JOIN contact_identifiers i ON i.kind = j.row_key->>'kind' AND i.value = j.row_key->>'value'
WHERE j.table_name = 'contact_identifiers'
  AND (i.kind IS NULL OR i.contact_id IS DISTINCT FROM (j.after->>'contact_id')::bigint)
UNION ALL
SELECT j.table_name, j.row_key FROM j
LEFT JOIN contact_invalid_identifiers v ON v.id = (j.row_key->>'id')::bigint
WHERE j.table_name = 'contact_invalid_identifiers'
  AND (v.id IS NULL OR v.contact_id IS DISTINCT FROM (j.after->>'contact_id')::bigint)
UNION ALL
SELECT j.table_name, j.row_key FROM j
LEFT JOIN communications c ON c.id = (j.row_key->>'id')::bigint
WHERE j.table_name = 'communications'
  AND (c.id IS NULL
       OR (j.owner_moved AND c.contact_id IS DISTINCT FROM (j.after->>'contact_id')::bigint)
       OR ((j.before->'lead_id') IS DISTINCT FROM (j.after->'lead_id')
           AND c.lead_id IS DISTINCT FROM (j.after->>'lead_id')::bigint))
UNION ALL
SELECT j.table_name, j.row_key FROM j
LEFT JOIN leads l ON l.id = (j.row_key->>'id')::bigint
WHERE j.table_name = 'leads'
  AND (l.id IS NULL
       OR (j.owner_moved AND l.contact_id IS DISTINCT FROM (j.after->>'contact_id')::bigint)
       OR ((j.before->'status') IS DISTINCT FROM (j.after->'status')
           AND (l.status, l.closed_at, l.reason) IS DISTINCT FROM
               (j.after->>'status', (j.after->>'closed_at')::timestamptz, j.after->>'reason')))
UNION ALL
SELECT j.table_name, j.row_key FROM j
LEFT JOIN contacts c ON c.id = (j.row_key->>'id')::bigint
WHERE j.table_name = 'contacts'
  AND (c.id IS NULL
       OR ((j.before->'name') IS DISTINCT FROM (j.after->'name') AND c.name IS DISTINCT FROM j.after->>'name')
       OR ((j.before->'responsible_id') IS DISTINCT FROM (j.after->'responsible_id')
           AND c.responsible_id IS DISTINCT FROM (j.after->>'responsible_id')::bigint)
       OR ((j.before->'ad_source') IS DISTINCT FROM (j.after->'ad_source')
           AND c.ad_source IS DISTINCT FROM j.after->>'ad_source')
       OR ((j.before->'tags') IS DISTINCT FROM (j.after->'tags')
           AND c.tags IS DISTINCT FROM ARRAY(SELECT jsonb_array_elements_text(j.after->'tags')))
       OR ((j.before->'birthday') IS DISTINCT FROM (j.after->'birthday')
           AND c.birthday IS DISTINCT FROM (j.after->>'birthday')::date)
       OR ((j.before->'note') IS DISTINCT FROM (j.after->'note') AND c.note IS DISTINCT FROM j.after->>'note')
       OR ((j.before->'merged_into') IS DISTINCT FROM (j.after->'merged_into')
           AND c.merged_into IS DISTINCT FROM (j.after->>'merged_into')::bigint))
ORDER BY 1, 2;

-- name: restore_identifiers
UPDATE contact_identifiers i SET contact_id = (j.before->>'contact_id')::bigint
FROM contact_merge_rows j
WHERE j.merge_id = $1 AND j.table_name = 'contact_identifiers' AND j.action = 'update'
  AND i.kind = j.row_key->>'kind' AND i.value = j.row_key->>'value';

-- name: restore_invalid_identifiers
UPDATE contact_invalid_identifiers v SET contact_id = (j.before->>'contact_id')::bigint
FROM contact_merge_rows j
WHERE j.merge_id = $1 AND j.table_name = 'contact_invalid_identifiers' AND j.action = 'update'
  AND v.id = (j.row_key->>'id')::bigint;

-- name: reinsert_invalid_identifiers
INSERT INTO contact_invalid_identifiers
SELECT (jsonb_populate_record(NULL::contact_invalid_identifiers, j.before)).*
FROM contact_merge_rows j
WHERE j.merge_id = $1 AND j.table_name = 'contact_invalid_identifiers' AND j.action = 'delete'
ON CONFLICT DO NOTHING;

-- name: restore_communications
-- Each column only where the merge changed it.
UPDATE communications c
SET contact_id = CASE WHEN (j.before->'contact_id') IS DISTINCT FROM (j.after->'contact_id')
                      THEN (j.before->>'contact_id')::bigint ELSE c.contact_id END,
    lead_id = CASE WHEN (j.before->'lead_id') IS DISTINCT FROM (j.after->'lead_id')
                   THEN (j.before->>'lead_id')::bigint ELSE c.lead_id END
FROM contact_merge_rows j
WHERE j.merge_id = $1 AND j.table_name = 'communications' AND j.action = 'update'
  AND c.id = (j.row_key->>'id')::bigint;

-- name: restore_later_communications
-- Communications that arrived while the contacts were merged (not in the
-- merge's journal; no time is compared: a call's transaction that waited for the
-- merge's locks started before it) were filed on the survivor under an identifier
-- the undo has just given back to a restored contact: they go back with it. The
-- communication's phone decides (without one, its e-mail); a messenger-only one
-- stays. Its lead stays when that lead went back to the same contact; else it is
-- that contact's open lead, if it has one (run after the leads are restored).
WITH m AS (
    SELECT id, survivor_id, merged_ids FROM contact_merges WHERE id = $1
), moving AS (
    SELECT c.id, i.contact_id AS owner
    FROM m
    JOIN communications c ON c.contact_id = m.survivor_id
    JOIN contact_identifiers i
      ON i.kind = CASE WHEN c.phone IS NOT NULL THEN 'phone' ELSE 'email' END
     AND i.value = COALESCE(c.phone, c.email)
    WHERE i.contact_id = ANY (m.merged_ids)
      AND NOT EXISTS (SELECT 1 FROM contact_merge_rows j
                      WHERE j.merge_id = m.id AND j.table_name = 'communications'
                        AND j.row_key = jsonb_build_object('id', c.id))
)
UPDATE communications c
SET contact_id = mv.owner,
    lead_id = CASE WHEN (SELECT l.contact_id FROM leads l WHERE l.id = c.lead_id) = mv.owner THEN c.lead_id
                   ELSE (SELECT o.id FROM leads o WHERE o.contact_id = mv.owner AND o.status = 'open') END,
    updated_at = now()
FROM moving mv
WHERE c.id = mv.id;

-- name: restore_lead_owners
-- Owners first, then states: at no moment may a contact hold two open leads.
UPDATE leads l SET contact_id = (j.before->>'contact_id')::bigint
FROM contact_merge_rows j
WHERE j.merge_id = $1 AND j.table_name = 'leads' AND j.action = 'update'
  AND (j.before->'contact_id') IS DISTINCT FROM (j.after->'contact_id')
  AND l.id = (j.row_key->>'id')::bigint;

-- name: restore_lead_states
UPDATE leads l
SET status = j.before->>'status', closed_at = (j.before->>'closed_at')::timestamptz,
    reason = j.before->>'reason'
FROM contact_merge_rows j
WHERE j.merge_id = $1 AND j.table_name = 'leads' AND j.action = 'update'
  AND (j.before->'status') IS DISTINCT FROM (j.after->'status')
  AND l.id = (j.row_key->>'id')::bigint;

-- name: restore_contacts
UPDATE contacts c SET
    name = CASE WHEN (j.before->'name') IS DISTINCT FROM (j.after->'name')
                THEN j.before->>'name' ELSE c.name END,
    responsible_id = CASE WHEN (j.before->'responsible_id') IS DISTINCT FROM (j.after->'responsible_id')
                          THEN (j.before->>'responsible_id')::bigint ELSE c.responsible_id END,
    ad_source = CASE WHEN (j.before->'ad_source') IS DISTINCT FROM (j.after->'ad_source')
                     THEN j.before->>'ad_source' ELSE c.ad_source END,
    tags = CASE WHEN (j.before->'tags') IS DISTINCT FROM (j.after->'tags')
                THEN ARRAY(SELECT jsonb_array_elements_text(j.before->'tags')) ELSE c.tags END,
    merged_into = CASE WHEN (j.before->'merged_into') IS DISTINCT FROM (j.after->'merged_into')
                       THEN (j.before->>'merged_into')::bigint ELSE c.merged_into END,
    birthday = CASE WHEN (j.before->'birthday') IS DISTINCT FROM (j.after->'birthday')
                    THEN (j.before->>'birthday')::date ELSE c.birthday END,
    note = CASE WHEN (j.before->'note') IS DISTINCT FROM (j.after->'note') THEN j.before->>'note' ELSE c.note END,
    updated_at = (j.before->>'updated_at')::timestamptz
FROM contact_merge_rows j
WHERE j.merge_id = $1 AND j.table_name = 'contacts' AND j.action = 'update'
  AND c.id = (j.row_key->>'id')::bigint;

-- name: restore_pairs
-- Duplicate hints and "not a duplicate" marks: the re-pointed pairs go, the old ones come back.
WITH gone_hints AS (
    DELETE FROM contact_duplicate_hints h USING contact_merge_rows j
    WHERE j.merge_id = $1 AND j.table_name = 'contact_duplicate_hints' AND j.action = 'insert'
      AND h.contact_low = (j.row_key->>'contact_low')::bigint
      AND h.contact_high = (j.row_key->>'contact_high')::bigint
), gone_marks AS (
    DELETE FROM contact_not_duplicates n USING contact_merge_rows j
    WHERE j.merge_id = $1 AND j.table_name = 'contact_not_duplicates' AND j.action = 'insert'
      AND n.contact_low = (j.row_key->>'contact_low')::bigint
      AND n.contact_high = (j.row_key->>'contact_high')::bigint
), back_hints AS (
    INSERT INTO contact_duplicate_hints
    SELECT (jsonb_populate_record(NULL::contact_duplicate_hints, j.before)).*
    FROM contact_merge_rows j
    WHERE j.merge_id = $1 AND j.table_name = 'contact_duplicate_hints' AND j.action = 'delete'
      -- (a forced undo after a later merge: never a pair naming a merged contact)
      AND NOT EXISTS (SELECT 1 FROM contacts c WHERE c.merged_into IS NOT NULL
                      AND c.id IN ((j.before->>'contact_low')::bigint, (j.before->>'contact_high')::bigint))
    ON CONFLICT DO NOTHING
)
INSERT INTO contact_not_duplicates
SELECT (jsonb_populate_record(NULL::contact_not_duplicates, j.before)).*
FROM contact_merge_rows j
WHERE j.merge_id = $1 AND j.table_name = 'contact_not_duplicates' AND j.action = 'delete'
  -- (a forced undo after a later merge: never a pair naming a merged contact)
  AND NOT EXISTS (SELECT 1 FROM contacts c WHERE c.merged_into IS NOT NULL
                  AND c.id IN ((j.before->>'contact_low')::bigint, (j.before->>'contact_high')::bigint))
ON CONFLICT DO NOTHING;

-- name: mark_undone
UPDATE contact_merges SET undone_at = now(), undone_by = $2, undo_forced = $3 WHERE id = $1;

-- name: recent_merges
-- The journal, newest first (contact_merges_created_idx).
SELECT m.id, m.survivor_id, m.merged_ids, m.actor, m.reason, m.moved::text AS moved, m.created_at,
       m.undone_at, m.undone_by, m.undo_forced, s.name AS survivor_name,
       ARRAY(SELECT c.name FROM unnest(m.merged_ids) WITH ORDINALITY AS u (id, pos)
             JOIN contacts c ON c.id = u.id ORDER BY u.pos) AS merged_names
FROM contact_merges m
JOIN contacts s ON s.id = m.survivor_id
ORDER BY m.created_at DESC, m.id DESC
LIMIT $1;

-- name: merge_trips
-- (contact_merge_trips, migration 0012: journals and moves them; call only when trips exist)
SELECT contact_merge_trips($1, $2, $3::bigint[]);

-- name: undo_conflicts_trips
SELECT 'trips' AS table_name, k AS row_key FROM contact_merge_trip_conflicts($1) AS k;

-- name: restore_trips
SELECT contact_restore_trips($1);

-- The wishes of the leads a merge closes join the surviving lead's (daemon/contacts/merge_wishes.py).
-- name: journal_wishes
-- The surviving lead's ($2) wish as it was, when a lead the merge closes ($3) has one
-- (before NULL: it had none); journal_after records what the carry wrote.
INSERT INTO contact_merge_rows (merge_id, table_name, row_key, action, before)
SELECT $1, 'lead_wishes', jsonb_build_object('lead_id', $2::bigint), 'update',
       (SELECT jsonb_build_object('parsed', w.parsed, 'edited', w.edited) FROM lead_wishes w WHERE w.lead_id = $2)
WHERE EXISTS (SELECT 1 FROM lead_wishes a WHERE a.lead_id = ANY($3::bigint[]));

-- name: carry_wishes
-- Field by field, parsed and edited apart: the surviving lead's ($1) own fields win; a field
-- only the closed leads ($2) have comes from the newest of them ("at"). A manager's field
-- stays a manager's (edited), so it still wins over what the inquiries said.
WITH fields AS (
    SELECT DISTINCT ON (x.side, x.key) x.side, x.key, x.value
    FROM (SELECT 'parsed' AS side, f.key, f.value FROM lead_wishes a, jsonb_each(a.parsed) f
          WHERE a.lead_id = ANY($2::bigint[])
          UNION ALL
          SELECT 'edited', f.key, f.value FROM lead_wishes a, jsonb_each(a.edited) f
          WHERE a.lead_id = ANY($2::bigint[])) x
    ORDER BY x.side, x.key, x.value ->> 'at' DESC NULLS LAST
), carried AS (
    SELECT COALESCE(jsonb_object_agg(key, value) FILTER (WHERE side = 'parsed'), '{}'::jsonb) AS parsed,
           COALESCE(jsonb_object_agg(key, value) FILTER (WHERE side = 'edited'), '{}'::jsonb) AS edited
    FROM fields
)
INSERT INTO lead_wishes AS w (lead_id, parsed, edited)
SELECT $1, c.parsed, c.edited FROM carried c
WHERE c.parsed <> '{}'::jsonb OR c.edited <> '{}'::jsonb
ON CONFLICT (lead_id) DO UPDATE
SET parsed = EXCLUDED.parsed || w.parsed, edited = EXCLUDED.edited || w.edited, updated_at = now();

-- name: undo_wishes
-- The surviving lead's wish as journaled, and as it is now (NULL: it is gone).
SELECT (r.row_key ->> 'lead_id')::bigint AS lead_id, r.before, r.after,
       (SELECT jsonb_build_object('parsed', w.parsed, 'edited', w.edited) FROM lead_wishes w
        WHERE w.lead_id = (r.row_key ->> 'lead_id')::bigint) AS now
FROM contact_merge_rows r
WHERE r.merge_id = $1 AND r.table_name = 'lead_wishes';

-- name: restore_wish
UPDATE lead_wishes SET parsed = $2::jsonb, edited = $3::jsonb, updated_at = now() WHERE lead_id = $1;

-- name: drop_wish
DELETE FROM lead_wishes WHERE lead_id = $1;
