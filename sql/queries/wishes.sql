-- Named queries of the lead's wish (daemon/wishes, daemon/inquiries/wish_step.py,
-- daemon/leads/wish.py). Loaded once by daemon/store/queries.py.

-- name: wish_refine
-- Lay one message's fields ($2, field -> {value, words, communication_id, at}) over the
-- lead's parsed wish: a field replaces the stored one unless that one is newer (a late
-- delivery of an older message refines nothing; lead_wish_refine_v1, migration 0035).
SELECT lead_wish_refine_v1($1, $2::jsonb, NULL);

-- name: wish_edit
-- A manager's fields ($2, field -> {value, by, at}) over the lead's edited wish.
INSERT INTO lead_wishes AS w (lead_id, edited) VALUES ($1, $2::jsonb)
ON CONFLICT (lead_id) DO UPDATE SET edited = w.edited || EXCLUDED.edited, updated_at = now()
RETURNING parsed, edited, updated_at;

-- name: wish_of_lead
-- The lead (no row when there is none), as leads_list gives it, and its wish, parsed and
-- edited (NULL when nothing was said).
SELECT l.id, l.contact_id, l.status, l.reason, l.ad_source, l.opened_at, l.last_activity_at,
       l.closed_at, l.previous_lead_id,
       ARRAY(SELECT c.id FROM communications c WHERE c.lead_id = l.id
             ORDER BY c.started_at NULLS LAST, c.id) AS communication_ids,
       w.parsed, w.edited, w.updated_at AS wish_updated_at
FROM leads l LEFT JOIN lead_wishes w ON w.lead_id = l.id
WHERE l.id = $1;

-- name: wish_of_open_lead
-- The wish of a contact's open lead, for the lookup's open_lead_wish.
SELECT w.parsed, w.edited
FROM leads l JOIN lead_wishes w ON w.lead_id = l.id
WHERE l.id = $1;

-- name: wish_destinations
-- The destination country of each lead of $1 whose wish names one (a manager's first).
SELECT w.lead_id,
       COALESCE(CASE WHEN w.edited ? 'destination' THEN w.edited -> 'destination' -> 'value' ->> 'country' END,
                w.parsed -> 'destination' -> 'value' ->> 'country') AS country
FROM lead_wishes w
WHERE w.lead_id = ANY($1::bigint[]);

-- name: wish_note_lead
-- The lead of a communication whose note a manager wrote (none: no lead to tell).
SELECT lead_id FROM communications WHERE id = $1;
