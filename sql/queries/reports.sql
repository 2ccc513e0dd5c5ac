-- Named queries of the reports. Loaded once by daemon/queries.py.

-- name: missed_callers
-- One row per caller phone with missed inbound calls in [$1, $2); hidden
-- numbers make one row with a NULL phone. Uses communications_started_idx,
-- then communications_phone_idx for "was the caller reached later".
WITH missed AS (
    SELECT COALESCE(phone, phone_raw) AS caller, *
    FROM communications
    WHERE direction = 'inbound' AND status = 'missed'
      AND started_at >= $1 AND started_at < $2
), per_caller AS (
    SELECT caller,
           count(*) AS missed_calls,
           min(started_at) AS first_missed_at,
           max(started_at) AS last_missed_at,
           (array_agg(contact_id ORDER BY started_at DESC, id DESC))[1] AS contact_id,
           (array_agg(line_number ORDER BY started_at DESC, id DESC))[1] AS line_number,
           (array_agg(ad_source ORDER BY started_at DESC, id DESC))[1] AS ad_source
    FROM missed
    GROUP BY caller
)
SELECT p.caller AS phone, p.contact_id, ct.name AS contact_name, ct.tags,
       mg.extension AS responsible_extension, mg.name AS responsible_name,
       p.missed_calls, p.first_missed_at, p.last_missed_at, p.line_number, p.ad_source,
       EXISTS (
           SELECT 1 FROM communications later
           WHERE p.caller IS NOT NULL
             AND later.phone = p.caller
             AND later.status = 'answered'
             AND later.direction IN ('inbound', 'outbound')
             AND later.started_at > p.last_missed_at
       ) AS called_back
FROM per_caller p
LEFT JOIN contacts ct ON ct.id = p.contact_id
LEFT JOIN managers mg ON mg.id = ct.responsible_id
ORDER BY mg.extension NULLS LAST, p.last_missed_at DESC;
