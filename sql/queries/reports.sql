-- Named queries of the reports. Loaded once by daemon/store/queries.py.

-- name: missed_callers
-- One row per caller phone with missed inbound calls in [$1, $2); hidden
-- numbers make one row with a NULL phone. Uses communications_started_idx,
-- then communications_phone_idx for "was the caller reached later".
WITH missed AS (
    SELECT COALESCE(m.phone, m.phone_raw) AS caller, m.*,
           -- Reached back after this missed call (an answered call with the caller,
           -- either way): the rule the inbox's trigger applies too (migration 0021).
           -- Uses communications_phone_idx.
           callbridge_reached_after_v1(COALESCE(m.phone, m.phone_raw), m.started_at) AS reached_after
    FROM communications m
    WHERE m.direction = 'inbound' AND m.status = 'missed'
      AND m.started_at >= $1 AND m.started_at < $2
), per_caller AS (
    SELECT caller,
           count(*) AS missed_calls,
           min(started_at) AS first_missed_at,
           max(started_at) AS last_missed_at,
           -- The first miss nobody has answered for since: how long the caller waits.
           min(started_at) FILTER (WHERE NOT reached_after) AS waiting_since,
           (array_agg(contact_id ORDER BY started_at DESC, id DESC))[1] AS contact_id,
           (array_agg(line_number ORDER BY started_at DESC, id DESC))[1] AS line_number,
           (array_agg(ad_source ORDER BY started_at DESC, id DESC))[1] AS ad_source
    FROM missed
    GROUP BY caller
)
SELECT p.caller AS phone, p.contact_id, ct.name AS contact_name, ct.tags,
       mg.extension AS responsible_extension, mg.name AS responsible_name,
       p.missed_calls, p.first_missed_at, p.last_missed_at, p.line_number, p.ad_source,
       -- Reached after the last missed call; a hidden caller never is.
       p.waiting_since IS NULL AS called_back, p.waiting_since,
       -- «Не звонить»: on the caller's contact, else on the number itself.
       COALESCE(
           (SELECT d.do_not_call_reason FROM contact_identifiers d
            WHERE d.contact_id = p.contact_id AND d.do_not_call_since IS NOT NULL
            ORDER BY d.do_not_call_since LIMIT 1),
           (SELECT d.do_not_call_reason FROM contact_identifiers d
            WHERE d.kind = 'phone' AND d.value = p.caller AND d.do_not_call_since IS NOT NULL)
       ) AS do_not_call_reason
FROM per_caller p
LEFT JOIN contacts ct ON ct.id = p.contact_id
LEFT JOIN managers mg ON mg.id = ct.responsible_id
ORDER BY mg.extension NULLS LAST, p.last_missed_at DESC;

-- name: unanswered_inquiries
-- Inquiries (forms, chats, messengers, e-mail) that came in [$1, $2) and that
-- nobody has answered since: no reply in the conversation and no outbound call
-- to the contact after it came. Unreachable ones (no contact) are counted apart.
-- The first $3 of them; total counts them all.
-- Uses communications_started_idx, then communications_contact_idx.
SELECT count(*) OVER () AS total, c.id AS communication_id, c.channel, c.source, c.started_at, c.contact_id,
       ct.name AS contact_name, c.phone, c.email, c.ad_source,
       mg.extension AS responsible_extension, mg.name AS responsible_name,
       left(c.text, 200) AS excerpt
FROM communications c
JOIN contacts ct ON ct.id = c.contact_id
LEFT JOIN managers mg ON mg.id = ct.responsible_id
WHERE c.channel <> 'call' AND c.started_at >= $1 AND c.started_at < $2
  AND c.replied_at IS NULL
  AND NOT EXISTS (
      SELECT 1 FROM communications o
      WHERE o.contact_id = c.contact_id AND o.channel = 'call' AND o.direction = 'outbound'
        AND o.started_at > c.started_at)
ORDER BY mg.extension NULLS LAST, c.started_at
LIMIT $3;

-- name: unreachable_inquiries
SELECT count(*) FROM communications
WHERE channel <> 'call' AND contact_id IS NULL AND started_at >= $1 AND started_at < $2;
