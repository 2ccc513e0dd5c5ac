-- Named queries of the lost-clients report (daemon/leads/lost.py). Loaded once by daemon/store/queries.py.

-- name: lost_clients
-- Contacts who bought (a paid trip), whose last paid trip ended before $1 less
-- $2 months, with no open lead, no communication since $1 less $3 months, not
-- do-not-call, not merged or removed; the best customers first. $4 rows from the
-- $5th (NULL: all of them), each with how many there are in all (total; one row
-- with only the total when the page is past the end).
-- Reads lost_client_facts (migration 0025: one row per buyer with what these
-- conditions read, kept by triggers equal to lost_client_facts_source): the total
-- is a count over the buyers, no probe per buyer, and the page walks
-- lost_client_facts_revenue_idx until it has its rows (most buyers are lost: at
-- 1,000,000 contacts keeping all 128,000 to sort them took most of the read). The
-- names, phones, e-mails, manager and last contact are looked up for the page's
-- rows only.
WITH lost AS NOT MATERIALIZED (  -- read twice: counted, and walked in the list's order for the page
    SELECT f.contact_id, f.paid_trips, f.revenue, f.last_trip_end
    FROM lost_client_facts f
    WHERE f.active AND NOT f.open_lead AND NOT f.do_not_call
      AND f.last_trip_end < ($1::timestamptz - make_interval(months => $2::int))::date
      -- no communication since: the latest one started before (or there is none)
      AND (f.last_communication_at IS NULL
           OR f.last_communication_at < $1::timestamptz - make_interval(months => $3::int))
), page AS (
    SELECT l.contact_id, c.name, c.tags, c.responsible_id, l.paid_trips, l.revenue, l.last_trip_end
    FROM (SELECT * FROM lost ORDER BY revenue DESC, contact_id LIMIT $4::bigint OFFSET $5::bigint) AS l
    JOIN contacts c ON c.id = l.contact_id
)
SELECT (SELECT count(*) FROM lost) AS total,
       page.contact_id, page.name, page.tags,
       ARRAY(SELECT i.value FROM contact_identifiers i WHERE i.contact_id = page.contact_id AND i.kind = 'phone'
             ORDER BY i.created_at, i.value) AS phones,
       ARRAY(SELECT i.value FROM contact_identifiers i WHERE i.contact_id = page.contact_id AND i.kind = 'email'
             ORDER BY i.created_at, i.value) AS emails,
       m.extension AS responsible_extension, m.name AS responsible_name,
       page.paid_trips, page.revenue, page.last_trip_end,
       (SELECT max(x.started_at) FROM communications x WHERE x.contact_id = page.contact_id) AS last_contact_at
FROM (SELECT 1) AS one
LEFT JOIN page ON true
LEFT JOIN managers m ON m.id = page.responsible_id
ORDER BY page.revenue DESC, page.contact_id;

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
