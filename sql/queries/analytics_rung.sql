-- name: analytics_missed_by_rung_manager
-- The window's missed inbound calls ($1..$2) counted against every manager the PBX rang
-- for them: the extensions on the calls' legs (inbox events of kind call_leg, callee side),
-- NULL for a call that rang nobody (it ended in the IVR or a queue). A call that rang two
-- managers counts for both. Called back: reached by an answered call within $4 seconds of
-- its end, or on the same office-time day ($3). inquiry_facts_started_idx finds the window,
-- inbox_entry_idx the legs.
WITH missed AS (
    SELECT f.communication_id, f.started_at, f.ended_at, f.reached_at, c.entry_id
    FROM inquiry_facts f
    JOIN communications c ON c.id = f.communication_id
    WHERE f.started_at >= $1 AND f.started_at < $2 AND f.channel = 'call' AND f.status = 'missed'
), rang AS (
    SELECT m.communication_id,
           COALESCE(array_agg(DISTINCT i.event->'callee'->>'extension')
                        FILTER (WHERE i.event->'callee'->>'extension' IS NOT NULL), '{}') AS extensions
    FROM missed m
    LEFT JOIN inbox i ON i.entry_id = m.entry_id AND i.kind = 'call_leg'
    GROUP BY m.communication_id
)
SELECT e.extension,
       count(*) AS missed,
       count(*) FILTER (WHERE m.reached_at - m.ended_at <= make_interval(secs => $4)) AS called_back_15m,
       count(*) FILTER (WHERE (m.reached_at AT TIME ZONE $3::text)::date
                              = (m.started_at AT TIME ZONE $3::text)::date) AS called_back_same_day
FROM missed m
JOIN rang r USING (communication_id)
CROSS JOIN LATERAL unnest(CASE WHEN r.extensions = '{}' THEN ARRAY[NULL::text] ELSE r.extensions END)
    AS e (extension)
GROUP BY e.extension;
