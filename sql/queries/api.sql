-- Named queries of the read API. Loaded once by daemon/store/queries.py.

-- name: communications_by_phone
-- Uses communications_phone_idx.
SELECT c.*
FROM communications c
WHERE c.phone = $1
  AND ($2::timestamptz IS NULL OR c.started_at >= $2)
  AND ($3::timestamptz IS NULL OR c.started_at < $3)
ORDER BY c.started_at DESC NULLS LAST, c.id DESC
LIMIT $4;

-- name: communications_by_contact
-- Uses communications_contact_idx. A merged contact's id leads to its survivor.
SELECT c.*
FROM communications c
WHERE c.contact_id = contact_survivor($1)
  AND ($2::timestamptz IS NULL OR c.started_at >= $2)
  AND ($3::timestamptz IS NULL OR c.started_at < $3)
ORDER BY c.started_at DESC NULLS LAST, c.id DESC
LIMIT $4;
