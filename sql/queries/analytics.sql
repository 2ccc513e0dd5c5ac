-- Named queries of the channel analytics (daemon/leads/analytics.py). Loaded once by daemon/store/queries.py.

-- name: analytics_inquiries
-- One row per inquiry: an inbound communication (a call or any other channel)
-- whose own time falls in [$1, $2). Uses communications_started_idx, then per
-- row communications_phone_idx (calls) or communications_contact_idx (others)
-- for the first answer, and trips_lead_idx for the revenue of the lead.
SELECT c.id, c.channel, c.ad_source, c.line_number, c.manager_extension, c.status,
       c.started_at, c.answered_at, COALESCE(c.ended_at, c.started_at) AS ended_at,
       c.contact_id, c.lead_id, c.replied_at,
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

-- name: analytics_figures
-- Every figure of the analytics per group of inquiries ($4: ad_source, channel,
-- line, manager or day, a day in the office's time zone $3) and for all of them,
-- in one pass (GROUPING SETS; is_total marks the totals' row). The inquiries and
-- their facts are inquiry_facts' rows, kept equal to analytics_inquiries' by
-- triggers (migration 0017; tests/integration/test_leads_analytics.py compares the two,
-- figure by figure); inquiry_facts_started_idx finds the window. A lead counts as
-- opened by the one inquiry that opened it, so sums over opened rows count each
-- lead once. Waits to the first answer are clock seconds (percentile_cont, like
-- daemon/leads/officetime.percentile); with office hours ($5) the waits' ends
-- come back as arrays instead, to be counted in office seconds by the caller.
-- A first answer is a live answer, a later answered call, or a reply (replied_at);
-- answered in SLA: within the channel's [sla] minutes ($7, $8).
WITH i AS (
    SELECT CASE $4::text WHEN 'ad_source' THEN c.ad_source WHEN 'channel' THEN c.channel
                         WHEN 'line' THEN c.line_number WHEN 'manager' THEN c.manager_extension
                         ELSE ((c.started_at AT TIME ZONE $3::text)::date)::text
           END COLLATE "C" AS key,  -- grouped, never ordered here: bytes compare faster than the locale
           c.channel, c.status, c.started_at, c.answered_at, c.ended_at, c.contact_id, c.lead_id,
           c.new_contact, c.opened_lead, c.lead_status, COALESCE(c.lead_reason, '—') AS lead_reason,
           c.lead_revenue, c.reached_at,
           -- A reply (the outbox's, or one made elsewhere) answers too: the first answer is the earliest.
           cm.replied_at
    FROM inquiry_facts c
    LEFT JOIN communications cm ON cm.id = c.communication_id
    WHERE c.started_at >= $1 AND c.started_at < $2
), f AS (
    SELECT i.*, least(COALESCE(i.answered_at, i.reached_at), i.replied_at) AS waited_until,
           -- [sla]: the channel's first-response seconds ($7 minutes per channel, $8 the default).
           COALESCE(($7::jsonb ->> i.channel)::float8, $8::float8) * 60 AS sla_s,
           i.channel = 'call' AND i.status = 'missed' AS missed,
           i.opened_lead AND i.lead_status = 'lost' AS lost
    FROM i
), per_reason AS (
    SELECT key, grouping(key) = 1 AS is_total, lead_reason, count(*) AS n
    FROM f WHERE lost
    GROUP BY GROUPING SETS ((key, lead_reason), (lead_reason))
), reasons AS (
    SELECT key, is_total, jsonb_object_agg(lead_reason, n) AS lost_reasons FROM per_reason GROUP BY key, is_total
), figures AS (
    SELECT key, grouping(key) = 1 AS is_total,
           count(*) AS inquiries,
           count(DISTINCT contact_id) AS contacts,
           -- One inquiry created each contact (created_by_entry_id) and opened each lead
           -- (opened_by_entry_id): counting those rows counts them once, without a sort.
           count(*) FILTER (WHERE new_contact) AS new_contacts,
           count(*) FILTER (WHERE opened_lead) AS leads_opened,
           count(DISTINCT lead_id) - count(*) FILTER (WHERE opened_lead) AS leads_joined,
           count(*) FILTER (WHERE channel = 'call') AS calls,
           count(*) FILTER (WHERE missed) AS missed,
           count(*) FILTER (WHERE missed AND reached_at - ended_at <= make_interval(secs => $6)) AS called_back_15m,
           count(*) FILTER (WHERE missed AND (reached_at AT TIME ZONE $3::text)::date
                                             = (started_at AT TIME ZONE $3::text)::date) AS called_back_same_day,
           CASE WHEN NOT $5::boolean THEN
               percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (
                   ORDER BY greatest(0, extract(epoch FROM waited_until - started_at))::float8)
               FILTER (WHERE waited_until IS NOT NULL)
           END AS clock_waits,
           CASE WHEN $5::boolean AND grouping(key) = 0 THEN
               array_agg(started_at ORDER BY started_at) FILTER (WHERE waited_until IS NOT NULL) END AS wait_starts,
           CASE WHEN $5::boolean AND grouping(key) = 0 THEN
               array_agg(waited_until ORDER BY started_at) FILTER (WHERE waited_until IS NOT NULL) END AS wait_ends,
           CASE WHEN $5::boolean AND grouping(key) = 0 THEN
               array_agg(sla_s ORDER BY started_at) FILTER (WHERE waited_until IS NOT NULL) END AS wait_slas,
           count(*) FILTER (WHERE NOT $5::boolean AND waited_until IS NOT NULL
                            AND greatest(0, extract(epoch FROM waited_until - started_at)) <= sla_s) AS in_sla_clock,
           count(*) FILTER (WHERE opened_lead AND lead_status = 'won') AS won,
           count(*) FILTER (WHERE lost) AS lost,
           count(*) FILTER (WHERE opened_lead AND lead_status = 'open') AS open,
           COALESCE(sum(lead_revenue) FILTER (WHERE opened_lead), 0) AS revenue
    FROM f
    GROUP BY GROUPING SETS ((key), ())
)
SELECT figures.*, COALESCE(reasons.lost_reasons, '{}') AS lost_reasons
FROM figures
LEFT JOIN reasons ON reasons.is_total = figures.is_total AND reasons.key IS NOT DISTINCT FROM figures.key;

-- name: set_work_mem
-- The figures sort and hash every inquiry of the window; more memory keeps those
-- in memory instead of spilling to disk (this transaction only).
SELECT set_config('work_mem', $1::text, true);
