-- Named queries of contacts, managers and lines. Loaded once by daemon/queries.py.

-- name: contact_id_by_phone
-- The hot lookup: one probe of contact_phones' primary key.
SELECT contact_id FROM contact_phones WHERE phone = $1;

-- name: contact_card_by_phone
SELECT c.id, c.name, c.tags, c.ad_source,
       m.extension AS responsible_extension, m.name AS responsible_name,
       (SELECT array_agg(p.phone ORDER BY p.created_at, p.phone)
          FROM contact_phones p WHERE p.contact_id = c.id) AS phones,
       (SELECT array_agg(e.email ORDER BY e.email)
          FROM contact_emails e WHERE e.contact_id = c.id) AS emails,
       (SELECT l.id FROM leads l WHERE l.contact_id = c.id AND l.status = 'open') AS open_lead_id
FROM contact_phones cp
JOIN contacts c ON c.id = cp.contact_id
LEFT JOIN managers m ON m.id = c.responsible_id
WHERE cp.phone = $1;

-- name: contact_id_by_email
SELECT contact_id FROM contact_emails WHERE email = $1;

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

-- name: add_phone
-- No row back means another contact already has the phone.
INSERT INTO contact_phones (phone, contact_id) VALUES ($1, $2)
ON CONFLICT (phone) DO NOTHING
RETURNING contact_id;

-- name: add_email
INSERT INTO contact_emails (email, contact_id) VALUES ($1, $2)
ON CONFLICT (email) DO NOTHING
RETURNING contact_id;

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

-- name: deactivate_managers_except
-- Employees the PBX no longer lists stay for history but are not routed to.
UPDATE managers SET active = false, updated_at = now()
WHERE active AND NOT (extension = ANY($1::text[]))
RETURNING extension;
