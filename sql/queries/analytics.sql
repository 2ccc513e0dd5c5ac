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
-- line, manager or day, a day in the office's time zone $3) and for all of them
-- (is_total marks the totals' row), in one scan of the window. The inquiries and
-- their facts are inquiry_facts' rows, kept equal to analytics_inquiries' by
-- triggers (migrations 0017, 0019; tests/integration/test_leads_analytics.py
-- compares the two, figure by figure); inquiry_facts_started_idx finds the window.
-- Nothing sorts the window's rows for a distinct count: an inquiry is the first
-- of its contact (lead) in the window and group when the contact's (lead's)
-- previous inquiry of the same group started before the window, or on an earlier
-- day when grouped by day (the *_prev_* columns), so distinct counts are counts
-- of those rows, hashed by group, and the totals are the groups' sums. A lead
-- counts as opened by the one inquiry that opened it, so sums over opened rows
-- count each lead once. Waits to the first answer are clock seconds (wait_s;
-- percentile_cont, like daemon/leads/officetime.percentile), sorted per group
-- from the group's array; with office hours ($5) the waits' starts and ends come
-- back as arrays instead, to be counted in office seconds by the caller.
-- A first answer is a live answer, a later answered call, or a reply (replied_at:
-- the outbox's, or one made elsewhere); answered in SLA: within the channel's [sla]
-- minutes ($7 per channel, $8 the default). Only an inquiry that is not a call can
-- have a reply, so only those rows probe their communication for it.
WITH i AS (
    SELECT CASE $4::text WHEN 'ad_source' THEN c.ad_source WHEN 'channel' THEN c.channel
                         WHEN 'line' THEN c.line_number WHEN 'manager' THEN c.manager_extension
           END COLLATE "C" AS key,  -- grouped, never ordered here: bytes compare faster than the locale
           -- A date groups faster than its text, which is made once per group at the end.
           CASE $4::text WHEN 'day' THEN (c.started_at AT TIME ZONE $3::text)::date END AS day,
           CASE $4::text WHEN 'ad_source' THEN c.contact_prev_ad_source_at
                         WHEN 'channel' THEN c.contact_prev_channel_at WHEN 'line' THEN c.contact_prev_line_at
                         WHEN 'manager' THEN c.contact_prev_manager_at
                         ELSE CASE WHEN (c.contact_prev_at AT TIME ZONE $3::text)::date
                                        = (c.started_at AT TIME ZONE $3::text)::date THEN c.contact_prev_at END
           END AS contact_prev_in_group,
           CASE $4::text WHEN 'ad_source' THEN c.lead_prev_ad_source_at
                         WHEN 'channel' THEN c.lead_prev_channel_at WHEN 'line' THEN c.lead_prev_line_at
                         WHEN 'manager' THEN c.lead_prev_manager_at
                         ELSE CASE WHEN (c.lead_prev_at AT TIME ZONE $3::text)::date
                                        = (c.started_at AT TIME ZONE $3::text)::date THEN c.lead_prev_at END
           END AS lead_prev_in_group,
           c.contact_id, c.contact_prev_at, c.lead_id, c.lead_prev_at, c.channel,
           c.channel = 'call' AND c.status = 'missed' AS missed, c.started_at, c.ended_at, c.reached_at,
           CASE WHEN r.replied_at IS NULL THEN c.wait_s
                ELSE least(c.wait_s, greatest(0, extract(epoch FROM r.replied_at - c.started_at))::float8)
           END AS wait_s,
           least(COALESCE(c.answered_at, c.reached_at), r.replied_at) AS waited_until,
           COALESCE(($7::jsonb ->> c.channel)::float8, $8::float8) * 60 AS sla_s,
           c.new_contact, c.opened_lead, c.lead_status, c.lead_reason, c.lead_revenue
    FROM inquiry_facts c
    LEFT JOIN LATERAL (SELECT cm.replied_at FROM communications cm
                       WHERE cm.id = c.communication_id AND c.channel <> 'call') r ON true
    WHERE c.started_at >= $1 AND c.started_at < $2
), groups AS (
    SELECT key, day, count(*) AS inquiries,
           count(*) FILTER (WHERE contact_id IS NOT NULL
                              AND (contact_prev_in_group IS NULL OR contact_prev_in_group < $1)) AS contacts,
           -- The first inquiry of a contact in the whole window is in one group:
           -- summed over the groups, these count the totals' distinct contacts.
           count(*) FILTER (WHERE contact_id IS NOT NULL
                              AND (contact_prev_at IS NULL OR contact_prev_at < $1)) AS first_contacts,
           count(*) FILTER (WHERE lead_id IS NOT NULL
                              AND (lead_prev_in_group IS NULL OR lead_prev_in_group < $1)) AS leads,
           count(*) FILTER (WHERE lead_id IS NOT NULL AND (lead_prev_at IS NULL OR lead_prev_at < $1)) AS first_leads,
           -- One inquiry created each contact (created_by_entry_id) and opened each lead
           -- (opened_by_entry_id): counting those rows counts them once.
           count(*) FILTER (WHERE new_contact) AS new_contacts,
           count(*) FILTER (WHERE opened_lead) AS leads_opened,
           count(*) FILTER (WHERE channel = 'call') AS calls,
           count(*) FILTER (WHERE missed) AS missed,
           count(*) FILTER (WHERE missed AND reached_at - ended_at <= make_interval(secs => $6)) AS called_back_15m,
           count(*) FILTER (WHERE missed AND (reached_at AT TIME ZONE $3::text)::date
                                             = (started_at AT TIME ZONE $3::text)::date) AS called_back_same_day,
           count(*) FILTER (WHERE opened_lead AND lead_status = 'won') AS won,
           count(*) FILTER (WHERE opened_lead AND lead_status = 'lost') AS lost,
           count(*) FILTER (WHERE opened_lead AND lead_status = 'open') AS open,
           COALESCE(sum(lead_revenue) FILTER (WHERE opened_lead), 0) AS revenue,
           -- Unordered: the percentiles and reasons are counted from these per group below.
           -- Aggregates of one node see the rows in one order, so starts and ends pair up.
           array_agg(wait_s) FILTER (WHERE wait_s IS NOT NULL AND NOT $5::boolean) AS waits,
           array_agg(started_at) FILTER (WHERE wait_s IS NOT NULL AND $5::boolean) AS wait_starts,
           array_agg(waited_until) FILTER (WHERE wait_s IS NOT NULL AND $5::boolean) AS wait_ends,
           array_agg(sla_s) FILTER (WHERE wait_s IS NOT NULL AND $5::boolean) AS wait_slas,
           count(*) FILTER (WHERE NOT $5::boolean AND wait_s IS NOT NULL AND wait_s <= sla_s) AS in_sla_clock,
           array_agg(COALESCE(lead_reason, '—')) FILTER (WHERE opened_lead AND lead_status = 'lost') AS reasons
    FROM i
    GROUP BY key, day
), figures AS (  -- the groups, and the totals as their sums (every count adds up across groups)
    SELECT key, day, false AS is_total, inquiries, contacts, leads, new_contacts, leads_opened, calls, missed,
           called_back_15m, called_back_same_day, won, lost, open, revenue,
           (SELECT percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY w) FROM unnest(waits) AS w) AS clock_waits,
           wait_starts, wait_ends, wait_slas, in_sla_clock,
           (SELECT jsonb_object_agg(r, n) FROM (SELECT r, count(*) AS n FROM unnest(reasons) AS r GROUP BY r) AS x)
               AS lost_reasons
    FROM groups
    UNION ALL
    SELECT NULL, NULL, true, COALESCE(sum(inquiries), 0)::bigint, COALESCE(sum(first_contacts), 0)::bigint,
           COALESCE(sum(first_leads), 0)::bigint, COALESCE(sum(new_contacts), 0)::bigint,
           COALESCE(sum(leads_opened), 0)::bigint, COALESCE(sum(calls), 0)::bigint, COALESCE(sum(missed), 0)::bigint,
           COALESCE(sum(called_back_15m), 0)::bigint, COALESCE(sum(called_back_same_day), 0)::bigint,
           COALESCE(sum(won), 0)::bigint, COALESCE(sum(lost), 0)::bigint, COALESCE(sum(open), 0)::bigint,
           COALESCE(sum(revenue), 0),
           (SELECT percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY w) FROM groups AS g, unnest(g.waits) AS w),
           NULL, NULL, NULL,  -- with office hours the caller counts the totals' waits from the groups'
           COALESCE(sum(in_sla_clock), 0)::bigint,
           (SELECT jsonb_object_agg(r, n)
            FROM (SELECT r, count(*) AS n FROM groups AS g, unnest(g.reasons) AS r GROUP BY r) AS x)
    FROM groups
)
SELECT COALESCE(f.day::text, f.key) AS key, f.is_total, f.inquiries, f.contacts, f.new_contacts, f.leads_opened,
       f.leads - f.leads_opened AS leads_joined, f.calls, f.missed, f.called_back_15m, f.called_back_same_day,
       f.clock_waits, f.wait_starts, f.wait_ends, f.wait_slas, f.in_sla_clock, f.won, f.lost, f.open, f.revenue,
       COALESCE(f.lost_reasons, '{}') AS lost_reasons
FROM figures AS f;

-- name: analytics_settings
-- The figures sort and hash every inquiry of the window; more memory keeps those
-- in memory instead of spilling to disk (this transaction only). A plan made for
-- this request's grouping ($4 of analytics_figures, known when planning) folds
-- the CASEs on it away; the generic plan a pooled connection's prepared
-- statement switches to after five runs evaluated them for every row (about a
-- fifth more CPU at 1,000,000 contacts; planning takes 2 ms).
SELECT set_config('work_mem', $1::text, true), set_config('plan_cache_mode', 'force_custom_plan', true);
