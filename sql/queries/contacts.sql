-- Named queries of contacts, managers and lines. Loaded once by daemon/store/queries.py.

-- name: contact_id_by_phone
-- The hot lookup: one probe of contact_identifiers' primary key.
SELECT contact_id FROM contact_identifiers WHERE kind = 'phone' AND value = $1;

-- name: contact_id_by_identifier
SELECT contact_id FROM contact_identifiers WHERE kind = $1 AND value = $2;

-- name: contact_card_by_identifier
-- The card of whoever holds identifier ($1 kind, $2 value): one primary-key probe,
-- then the contact's own rows by contact_identifiers_contact_idx.
SELECT c.id, c.name, c.tags, c.ad_source, c.birthday, c.note,
       p.score, p.score_reasons::text AS score_reasons, p.preferred_channel,
       COALESCE(p.preferred_channel_by_hand, false) AS preferred_channel_by_hand,
       p.first_seen_at, p.first_channel, p.first_ad_source,
       m.extension AS responsible_extension, m.name AS responsible_name,
       ARRAY(SELECT i.value FROM contact_identifiers i
             WHERE i.contact_id = c.id AND i.kind = 'phone' ORDER BY i.created_at, i.value) AS phones,
       ARRAY(SELECT i.value FROM contact_identifiers i
             WHERE i.contact_id = c.id AND i.kind = 'email' ORDER BY i.value) AS emails,
       ARRAY(SELECT i.value FROM contact_identifiers i
             WHERE i.contact_id = c.id AND i.kind = 'telegram' ORDER BY i.value) AS telegram_ids,
       ARRAY(SELECT i.value FROM contact_identifiers i
             WHERE i.contact_id = c.id AND i.kind = 'vk' ORDER BY i.value) AS vk_ids,
       ARRAY(SELECT i.value FROM contact_identifiers i
             WHERE i.contact_id = c.id AND i.kind = 'max' ORDER BY i.value) AS max_ids,
       ARRAY(SELECT i.value FROM contact_identifiers i
             WHERE i.contact_id = c.id AND i.kind = 'avito' ORDER BY i.value) AS avito_ids,
       ARRAY(SELECT i.value FROM contact_identifiers i
             WHERE i.contact_id = c.id AND i.kind = 'instagram' ORDER BY i.value) AS instagram_ids,
       (SELECT jsonb_build_object('reason', d.do_not_call_reason, 'since', d.do_not_call_since)
          FROM contact_identifiers d
          WHERE d.contact_id = c.id AND d.do_not_call_since IS NOT NULL
          ORDER BY d.do_not_call_since LIMIT 1)::text AS do_not_call,
       (SELECT l.id FROM leads l WHERE l.contact_id = c.id AND l.status = 'open') AS open_lead_id
FROM contact_identifiers ci
JOIN contacts c ON c.id = ci.contact_id
LEFT JOIN managers m ON m.id = c.responsible_id
LEFT JOIN contact_profiles p ON p.contact_id = c.id
WHERE ci.kind = $1 AND ci.value = $2 AND c.removed_at IS NULL;

-- name: insert_contact
INSERT INTO contacts (name, responsible_id, tags)
VALUES ($1, $2, $3)
RETURNING id;

-- name: update_imported_contact
-- The imported spreadsheet is the agency's own record: its values win where given.
UPDATE contacts
SET name = COALESCE($2, name),
    responsible_id = COALESCE($3, responsible_id),
    tags = ARRAY(SELECT DISTINCT t FROM unnest(tags || $4::text[]) AS t ORDER BY t),
    updated_at = now()
WHERE id = $1;

-- name: add_identifier
-- No row back means another contact already holds the identifier.
INSERT INTO contact_identifiers (kind, value, contact_id) VALUES ($1, $2, $3)
ON CONFLICT (kind, value) DO NOTHING
RETURNING contact_id;

-- name: add_invalid_identifier
INSERT INTO contact_invalid_identifiers (contact_id, kind, value, reason) VALUES ($1, $2, $3, $4)
ON CONFLICT (contact_id, kind, md5(value)) DO NOTHING;

-- name: upsert_line
INSERT INTO lines (line_key, line_number, ad_source)
VALUES ($1, $2, $3)
ON CONFLICT (line_key) DO UPDATE
SET line_number = EXCLUDED.line_number, ad_source = EXCLUDED.ad_source, updated_at = now();

-- name: upsert_manager
INSERT INTO managers (extension, name, email, pbx_user_id, active)
VALUES ($1, $2, $3, $4, true)
ON CONFLICT (extension) DO UPDATE
SET name = EXCLUDED.name, email = EXCLUDED.email,
    pbx_user_id = COALESCE(EXCLUDED.pbx_user_id, managers.pbx_user_id),
    active = true, updated_at = now()
RETURNING id, (xmax = 0) AS inserted;

-- name: claim_named_manager
-- An employee whose extension no manager has yet, named like a manager known by
-- name only (an import's «Ответственный»): that manager gets the extension, so the
-- contacts linked to it are routed to the employee. managers_name_only_idx.
UPDATE managers m
SET extension = $1, name = $2, email = $3, pbx_user_id = $4, active = true, updated_at = now()
WHERE m.extension IS NULL AND m.name_key = contact_name_key($2)
  AND NOT EXISTS (SELECT 1 FROM managers e WHERE e.extension = $1)
RETURNING id;

-- The employee's extension was already known (a call saw it before its name): a
-- manager known by name only with the employee's name is the same person. Its
-- contacts move to the employee's manager ($1), the merge journal's copies of
-- their responsible_id too (so that undoing a merge restores the living row),
-- and the name-only manager is deleted. $2: the employee's name.
-- name: relink_named_manager_contacts
UPDATE contacts c SET responsible_id = $1, updated_at = now()
FROM managers n
WHERE n.extension IS NULL AND n.name_key = contact_name_key($2) AND n.id <> $1 AND c.responsible_id = n.id;

-- name: relink_named_manager_journal
UPDATE contact_merge_rows r
SET before = CASE WHEN (r.before->>'responsible_id')::bigint = n.id
                  THEN jsonb_set(r.before, '{responsible_id}', to_jsonb($1::bigint)) ELSE r.before END,
    after = CASE WHEN (r.after->>'responsible_id')::bigint = n.id
                 THEN jsonb_set(r.after, '{responsible_id}', to_jsonb($1::bigint)) ELSE r.after END
FROM managers n
WHERE n.extension IS NULL AND n.name_key = contact_name_key($2) AND n.id <> $1
  AND r.table_name = 'contacts'
  AND ((r.before->>'responsible_id')::bigint = n.id OR (r.after->>'responsible_id')::bigint = n.id);

-- name: delete_named_manager
DELETE FROM managers n
WHERE n.extension IS NULL AND n.name_key = contact_name_key($2::text) AND n.id <> $1::bigint
RETURNING n.id;

-- name: deactivate_managers_except
-- Employees the PBX no longer lists stay for history but are not routed to.
UPDATE managers SET active = false, updated_at = now()
WHERE active AND NOT (extension = ANY($1::text[]))
RETURNING extension;

-- name: contact_card_by_id
-- A contact by id, following merged_into to the survivor (contact_survivor):
-- an id a merge retired still finds the person. Removed contacts are hidden.
SELECT c.id, c.name, c.tags, c.ad_source, c.birthday, c.note, c.created_at, c.responsible_id,
       p.score, p.score_reasons::text AS score_reasons, p.preferred_channel,
       COALESCE(p.preferred_channel_by_hand, false) AS preferred_channel_by_hand,
       p.first_seen_at, p.first_channel, p.first_ad_source,
       m.extension AS responsible_extension, m.name AS responsible_name,
       ARRAY(SELECT i.value FROM contact_identifiers i
             WHERE i.contact_id = c.id AND i.kind = 'phone' ORDER BY i.created_at, i.value) AS phones,
       ARRAY(SELECT i.value FROM contact_identifiers i
             WHERE i.contact_id = c.id AND i.kind = 'email' ORDER BY i.value) AS emails,
       ARRAY(SELECT i.value FROM contact_identifiers i
             WHERE i.contact_id = c.id AND i.kind = 'telegram' ORDER BY i.value) AS telegram_ids,
       ARRAY(SELECT i.value FROM contact_identifiers i
             WHERE i.contact_id = c.id AND i.kind = 'vk' ORDER BY i.value) AS vk_ids,
       ARRAY(SELECT i.value FROM contact_identifiers i
             WHERE i.contact_id = c.id AND i.kind = 'max' ORDER BY i.value) AS max_ids,
       ARRAY(SELECT i.value FROM contact_identifiers i
             WHERE i.contact_id = c.id AND i.kind = 'avito' ORDER BY i.value) AS avito_ids,
       ARRAY(SELECT i.value FROM contact_identifiers i
             WHERE i.contact_id = c.id AND i.kind = 'instagram' ORDER BY i.value) AS instagram_ids,
       ARRAY(SELECT v.kind || ': ' || v.value FROM contact_invalid_identifiers v
             WHERE v.contact_id = c.id ORDER BY v.id) AS invalid_identifiers,
       (SELECT jsonb_build_object('reason', d.do_not_call_reason, 'since', d.do_not_call_since)
          FROM contact_identifiers d
          WHERE d.contact_id = c.id AND d.do_not_call_since IS NOT NULL
          ORDER BY d.do_not_call_since LIMIT 1)::text AS do_not_call,
       (SELECT l.id FROM leads l WHERE l.contact_id = c.id AND l.status = 'open') AS open_lead_id,
       (SELECT count(*) FROM communications x WHERE x.contact_id = c.id) AS communications,
       (SELECT count(*) FROM leads l WHERE l.contact_id = c.id) AS leads,
       (SELECT max(x.started_at) FROM communications x WHERE x.contact_id = c.id) AS last_communication_at
FROM contacts c
LEFT JOIN managers m ON m.id = c.responsible_id
LEFT JOIN contact_profiles p ON p.contact_id = c.id
WHERE c.id = contact_survivor($1) AND c.removed_at IS NULL;
