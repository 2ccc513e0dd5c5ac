-- Named queries of the sales funnel (daemon/leads/funnel.py, funnel_analytics.py).
-- Loaded once by daemon/store/queries.py.

-- name: lead_stage_move
-- Move lead $1 to stage $2 (any direction), journaled with extension $3. A merged
-- lead is gone into its survivor's: no row.
WITH moved AS (
    UPDATE leads SET stage = $2, stage_at = now()
    WHERE id = $1 AND status <> 'merged'
    RETURNING id, stage, stage_at
)
INSERT INTO lead_stages (lead_id, stage, at, extension)
SELECT id, stage, stage_at, $3 FROM moved
RETURNING lead_id;

-- name: lead_detail
SELECT l.id, l.contact_id, l.status, l.reason, l.ad_source, l.opened_at, l.last_activity_at,
       l.closed_at, l.previous_lead_id, l.stage, l.stage_at,
       ARRAY(SELECT c.id FROM communications c WHERE c.lead_id = l.id
             ORDER BY c.started_at NULLS LAST, c.id) AS communication_ids
FROM leads l WHERE l.id = $1;

-- name: lead_stage_journal
-- Uses lead_stages_lead_idx.
SELECT stage, at, extension FROM lead_stages WHERE lead_id = $1 ORDER BY at, id;

-- name: funnel_won_by_booking
-- Every lead a booking won (trips.lead_id, trips_lead_idx) that never reached
-- stage $1 («Оплачено») nor $2 («Поездка») moves to $1 at the moment it was won.
-- Idempotent: a second run finds nothing.
WITH due AS (
    SELECT DISTINCT l.id, COALESCE(l.closed_at, now()) AS at
    FROM trips t JOIN leads l ON l.id = t.lead_id
    WHERE t.lead_id IS NOT NULL AND l.status = 'won'
      AND NOT EXISTS (SELECT 1 FROM lead_stages s WHERE s.lead_id = l.id AND s.stage IN ($1, $2))
), moved AS (
    UPDATE leads l SET stage = $1, stage_at = d.at FROM due d WHERE l.id = d.id
    RETURNING l.id, d.at
)
INSERT INTO lead_stages (lead_id, stage, at, extension)
SELECT id, $1, at, NULL FROM moved
RETURNING lead_id;

-- name: funnel_trips_started
-- A paid trip that won a lead and started by $2 (a date) moves that lead to
-- stage $1 («Поездка») at the trip's first moment in time zone $3, once.
WITH due AS (
    SELECT DISTINCT ON (t.lead_id) t.lead_id, (t.starts_on::timestamp AT TIME ZONE $3) AS at
    FROM trips t
    WHERE t.lead_id IS NOT NULL AND t.status = 'paid' AND t.starts_on <= $2::date
      AND NOT EXISTS (SELECT 1 FROM lead_stages s WHERE s.lead_id = t.lead_id AND s.stage = $1)
    ORDER BY t.lead_id, t.starts_on
), moved AS (
    UPDATE leads l SET stage = $1, stage_at = d.at FROM due d
    WHERE l.id = d.lead_id AND l.status <> 'merged'
    RETURNING l.id, d.at
)
INSERT INTO lead_stages (lead_id, stage, at, extension)
SELECT id, $1, at, NULL FROM moved
RETURNING lead_id;

-- name: funnel_figures
-- Leads opened in [$1, $2) (leads_opened_idx), grouped by $4 (ad_source | manager |
-- channel: of the lead's first communication), per stage k of $3 (1-based): how many
-- reached k (were ever at k or a later stage; every lead is at the first from its
-- opening) and the median hours from reaching k-1 to reaching k. One row per
-- (key, k) and, with is_total, per k for all the window's leads.
WITH l AS MATERIALIZED (
    SELECT l.id, l.opened_at,
           CASE $4::text WHEN 'ad_source' THEN l.ad_source
                         WHEN 'manager' THEN f.manager_extension
                         ELSE f.channel END AS key
    FROM leads l
    LEFT JOIN LATERAL (SELECT c.channel, c.manager_extension FROM communications c
                       WHERE c.lead_id = l.id ORDER BY c.started_at NULLS LAST, c.id LIMIT 1) f ON true
    WHERE l.opened_at >= $1 AND l.opened_at < $2 AND l.status <> 'merged'
), moves AS (
    SELECT l.id, 1 AS idx, l.opened_at AS at FROM l
    UNION ALL
    SELECT s.lead_id, array_position($3::text[], s.stage), s.at
    FROM lead_stages s JOIN l ON l.id = s.lead_id
    WHERE array_position($3::text[], s.stage) IS NOT NULL
), reached AS (
    SELECT m.id, k.k, min(m.at) AS at
    FROM moves m JOIN generate_series(1, cardinality($3::text[])) AS k (k) ON m.idx >= k.k
    GROUP BY m.id, k.k
), timed AS (
    SELECT r.id, r.k, extract(epoch FROM r.at - p.at) / 3600.0 AS hours
    FROM reached r LEFT JOIN reached p ON p.id = r.id AND p.k = r.k - 1
)
SELECT l.key, t.k, GROUPING(l.key) = 1 AS is_total, count(*) AS reached,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY t.hours) AS median_hours
FROM timed t JOIN l ON l.id = t.id
GROUP BY GROUPING SETS ((l.key, t.k), (t.k))
ORDER BY is_total, l.key NULLS LAST, t.k;
