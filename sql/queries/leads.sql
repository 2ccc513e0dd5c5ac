-- Named queries of the lead lifecycle (daemon/leads). Loaded once by daemon/store/queries.py.

-- name: leads_list
-- By contact (leads_contact_idx) or by status; $3 caps the answer.
SELECT l.id, l.contact_id, l.status, l.reason, l.ad_source, l.opened_at, l.last_activity_at,
       l.closed_at, l.previous_lead_id,
       ARRAY(SELECT c.id FROM communications c WHERE c.lead_id = l.id
             ORDER BY c.started_at NULLS LAST, c.id) AS communication_ids
FROM leads l
WHERE ($1::bigint IS NULL OR l.contact_id = $1) AND ($2::text IS NULL OR l.status = $2)
ORDER BY l.id
LIMIT $3;

-- name: lead_close
-- Only an open or archived lead is closed by a manager; won, lost and merged are final.
UPDATE leads SET status = $2, reason = $3, closed_at = now()
WHERE id = $1 AND status IN ('open', 'archived')
RETURNING id, contact_id, status, reason, ad_source, opened_at, last_activity_at, closed_at,
          previous_lead_id,
          ARRAY(SELECT c.id FROM communications c WHERE c.lead_id = leads.id
                ORDER BY c.started_at NULLS LAST, c.id) AS communication_ids;

-- name: lead_status
SELECT status FROM leads WHERE id = $1;

-- name: leads_archive_stale
-- Every open lead with no activity for $1 days before $2 (now), closed at the
-- moment it went stale: the same closed_at as when open_lead notices first.
-- Uses leads_open_activity_idx; a second run finds nothing (idempotent).
UPDATE leads SET status = 'archived',
                 closed_at = COALESCE(last_activity_at, opened_at) + make_interval(days => $1::int)
WHERE status = 'open'
  AND COALESCE(last_activity_at, opened_at) + make_interval(days => $1::int) < $2::timestamptz
RETURNING id;
