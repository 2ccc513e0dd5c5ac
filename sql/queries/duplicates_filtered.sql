-- name: candidates_page_filtered
-- A page of the kept candidates narrowed by the «База» tab's filters: a reason ($3), a least
-- score ($4) and «мои», pairs either of whose contacts the manager with extension $5 is
-- responsible for (each filter off when NULL). Best first, as candidates_page; the managers'
-- extension and the contacts' primary key answer the «мои» test per pair.
SELECT ARRAY[d.contact_low, d.contact_high] AS contact_ids, d.reason, d.score, d.evidence::text AS evidence
FROM contact_duplicate_candidates d
WHERE ($3::text IS NULL OR d.reason = $3)
  AND ($4::float8 IS NULL OR d.score >= $4)
  AND ($5::text IS NULL OR EXISTS (
        SELECT 1 FROM contacts c JOIN managers m ON m.id = c.responsible_id
        WHERE c.id IN (d.contact_low, d.contact_high) AND m.extension = $5))
ORDER BY d.score DESC, d.contact_low, d.contact_high
LIMIT $1 OFFSET $2;

-- name: candidates_total_filtered
-- How many candidates the same filters keep ($1 reason, $2 least score, $3 extension).
SELECT count(*)
FROM contact_duplicate_candidates d
WHERE ($1::text IS NULL OR d.reason = $1)
  AND ($2::float8 IS NULL OR d.score >= $2)
  AND ($3::text IS NULL OR EXISTS (
        SELECT 1 FROM contacts c JOIN managers m ON m.id = c.responsible_id
        WHERE c.id IN (d.contact_low, d.contact_high) AND m.extension = $3));
