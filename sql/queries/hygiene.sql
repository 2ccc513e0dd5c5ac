-- Named queries of the contact base's hygiene: do-not-call, invalid identifiers,
-- purge and restore (daemon/contacts/hygiene.py).

-- name: set_do_not_call
-- «Не звонить» goes on every identifier of the contact (following merges), so it
-- survives merges and re-imports; an earlier mark keeps its date.
UPDATE contact_identifiers
SET do_not_call_reason = $2, do_not_call_since = COALESCE(do_not_call_since, now())
WHERE contact_id = (SELECT id FROM contacts WHERE id = contact_survivor($1) AND removed_at IS NULL)
RETURNING contact_id, do_not_call_since;

-- name: lift_do_not_call
UPDATE contact_identifiers SET do_not_call_reason = NULL, do_not_call_since = NULL
WHERE contact_id = (SELECT id FROM contacts WHERE id = contact_survivor($1) AND removed_at IS NULL)
  AND do_not_call_since IS NOT NULL
RETURNING contact_id;

-- name: invalid_identifiers
SELECT v.id, v.contact_id, c.name AS contact_name, v.kind, v.value, v.reason, v.created_at
FROM contact_invalid_identifiers v
JOIN contacts c ON c.id = v.contact_id
WHERE c.merged_into IS NULL AND c.removed_at IS NULL
ORDER BY v.contact_id, v.kind, v.value;

-- name: empty_contacts
-- Active contacts with nothing to find them by or to show for them: no
-- identifier, no communication, no lead, no trip (contact_has_trips: false
-- until the trips table exists), nor a contact merged into them.
SELECT c.id, c.name, c.created_at FROM contacts c
WHERE c.merged_into IS NULL AND c.removed_at IS NULL
  AND NOT EXISTS (SELECT 1 FROM contact_identifiers i WHERE i.contact_id = c.id)
  AND NOT EXISTS (SELECT 1 FROM communications x WHERE x.contact_id = c.id)
  AND NOT EXISTS (SELECT 1 FROM leads l WHERE l.contact_id = c.id)
  AND NOT EXISTS (SELECT 1 FROM contacts m WHERE m.merged_into = c.id)
  AND NOT contact_has_trips(c.id)
ORDER BY c.id;

-- name: mark_removed
-- Re-checked here: a contact listed a moment ago may have been called since.
UPDATE contacts c SET removed_at = now(), updated_at = now()
WHERE c.id = ANY($1::bigint[]) AND c.removed_at IS NULL AND c.merged_into IS NULL
  AND NOT EXISTS (SELECT 1 FROM contact_identifiers i WHERE i.contact_id = c.id)
  AND NOT EXISTS (SELECT 1 FROM communications x WHERE x.contact_id = c.id)
  AND NOT EXISTS (SELECT 1 FROM leads l WHERE l.contact_id = c.id)
  AND NOT contact_has_trips(c.id)
RETURNING c.id;

-- name: delete_long_removed
-- Removed contacts are deleted for good once removed for $1 days, if still empty
-- and nothing (a merge, the journal) refers to them.
DELETE FROM contacts c
WHERE c.removed_at < now() - make_interval(days => $1)
  AND NOT EXISTS (SELECT 1 FROM contact_identifiers i WHERE i.contact_id = c.id)
  AND NOT EXISTS (SELECT 1 FROM communications x WHERE x.contact_id = c.id)
  AND NOT EXISTS (SELECT 1 FROM leads l WHERE l.contact_id = c.id)
  AND NOT EXISTS (SELECT 1 FROM contacts m WHERE m.merged_into = c.id)
  AND NOT EXISTS (SELECT 1 FROM contact_merges j WHERE j.survivor_id = c.id OR c.id = ANY(j.merged_ids))
  AND NOT contact_has_trips(c.id)
RETURNING id, name;

-- name: restore_removed
UPDATE contacts SET removed_at = NULL, updated_at = now()
WHERE id = $1 AND removed_at IS NOT NULL
RETURNING id, name;
