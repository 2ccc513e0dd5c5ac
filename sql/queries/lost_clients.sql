-- Named queries of the lost-clients report (daemon/leads/lost.py). Loaded once by daemon/store/queries.py.

-- name: lost_clients
-- Contacts who bought (a paid trip), whose last paid trip ended before $1 less
-- $2 months, with no open lead, no communication since $1 less $3 months, not
-- do-not-call, not merged or removed; the best customers first.
-- Uses trips_contact_idx, leads_one_open_per_contact, communications_contact_idx,
-- contact_identifiers_contact_idx.
WITH paid AS (
    SELECT t.contact_id, count(*) AS paid_trips, COALESCE(sum(t.amount), 0) AS revenue,
           max(COALESCE(t.ends_on, t.starts_on)) AS last_trip_end
    FROM trips t
    WHERE t.status = 'paid' AND t.contact_id IS NOT NULL
    GROUP BY t.contact_id
)
SELECT c.id AS contact_id, c.name, c.tags,
       ARRAY(SELECT i.value FROM contact_identifiers i WHERE i.contact_id = c.id AND i.kind = 'phone'
             ORDER BY i.created_at, i.value) AS phones,
       ARRAY(SELECT i.value FROM contact_identifiers i WHERE i.contact_id = c.id AND i.kind = 'email'
             ORDER BY i.created_at, i.value) AS emails,
       m.extension AS responsible_extension, m.name AS responsible_name,
       p.paid_trips, p.revenue, p.last_trip_end,
       (SELECT max(x.started_at) FROM communications x WHERE x.contact_id = c.id) AS last_contact_at
FROM paid p
JOIN contacts c ON c.id = p.contact_id
LEFT JOIN managers m ON m.id = c.responsible_id
WHERE c.merged_into IS NULL AND c.removed_at IS NULL
  AND p.last_trip_end < ($1::timestamptz - make_interval(months => $2::int))::date
  AND NOT EXISTS (SELECT 1 FROM leads l WHERE l.contact_id = c.id AND l.status = 'open')
  AND NOT EXISTS (SELECT 1 FROM communications x WHERE x.contact_id = c.id
                  AND x.started_at >= $1::timestamptz - make_interval(months => $3::int))
  AND NOT EXISTS (SELECT 1 FROM contact_identifiers d WHERE d.contact_id = c.id
                  AND d.do_not_call_since IS NOT NULL)
ORDER BY p.revenue DESC, c.id;

-- name: lost_clients_assign
-- Contact $1[i] gets the manager of extension $2[i]; returns what it could not find.
WITH wanted AS (
    SELECT u.contact_id, u.extension FROM unnest($1::bigint[], $2::text[]) AS u (contact_id, extension)
), done AS (
    UPDATE contacts c SET responsible_id = m.id, updated_at = now()
    FROM wanted w JOIN managers m ON m.extension = w.extension
    WHERE c.id = w.contact_id
    RETURNING c.id
)
SELECT count(*) AS assigned FROM done;

-- name: managers_by_extension
SELECT extension, active FROM managers WHERE extension = ANY ($1::text[]);
