-- Named queries of the channel analytics (daemon/leads/analytics.py). Loaded once by daemon/queries.py.

-- name: analytics_inquiries
-- One row per inquiry: an inbound communication (a call or any other channel)
-- whose own time falls in [$1, $2). Uses communications_started_idx, then per
-- row communications_phone_idx (calls) or communications_contact_idx (others)
-- for the first answer, and trips_lead_idx for the revenue of the lead.
SELECT c.id, c.channel, c.ad_source, c.line_number, c.manager_extension, c.status,
       c.started_at, c.answered_at, COALESCE(c.ended_at, c.started_at) AS ended_at,
       c.contact_id, c.lead_id,
       (ct.created_by_entry_id IS NOT NULL AND ct.created_by_entry_id = c.entry_id) AS new_contact,
       (l.opened_by_entry_id IS NOT NULL AND l.opened_by_entry_id = c.entry_id) AS opened_lead,
       l.status AS lead_status, l.reason AS lead_reason,
       (SELECT COALESCE(sum(t.amount), 0) FROM trips t
        WHERE t.lead_id = c.lead_id AND t.status = 'paid') AS lead_revenue,
       -- The first answered communication with the same person after this one started.
       CASE WHEN c.phone IS NOT NULL THEN
           (SELECT min(a.answered_at) FROM communications a
            WHERE a.phone = c.phone AND a.started_at >= c.started_at AND a.id <> c.id
              AND a.answered_at IS NOT NULL AND a.direction IN ('inbound', 'outbound'))
       WHEN c.contact_id IS NOT NULL THEN
           (SELECT min(a.answered_at) FROM communications a
            WHERE a.contact_id = c.contact_id AND a.started_at >= c.started_at AND a.id <> c.id
              AND a.answered_at IS NOT NULL AND a.direction IN ('inbound', 'outbound'))
       END AS reached_at
FROM communications c
LEFT JOIN contacts ct ON ct.id = c.contact_id
LEFT JOIN leads l ON l.id = c.lead_id
WHERE c.direction = 'inbound' AND c.started_at >= $1 AND c.started_at < $2
ORDER BY c.started_at, c.id;
