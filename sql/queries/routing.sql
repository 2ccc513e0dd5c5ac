-- Named queries of routing (daemon/routing). Loaded once by daemon/store/queries.py.

-- name: claim_call_and_find_responsible
-- The routing hot path in one round trip, right after the Appeared event is stored:
--  * claim the leg: of two daemons, only the one whose row lands goes on;
--  * the responsible manager of the caller's phone ($4; NULL skips it): one probe
--    of contact_identifiers' primary key, then the contacts and managers primary keys.
--    A contact this very call created ($2) is an unknown caller;
--  * has the caller left the IVR: any other event of this leg (inbox_call_idx) or
--    the call's summary (inbox_entry_idx); and the seconds since the Appeared
--    event ($5) was stored, on the database's clock, which every daemon shares.
WITH claim AS (
    INSERT INTO route_decisions (call_id, entry_id, command_id)
    VALUES ($1, $2, $3)
    ON CONFLICT (call_id) DO NOTHING
    RETURNING call_id
), found AS (
    SELECT c.id AS contact_id,
           c.created_by_entry_id IS NOT DISTINCT FROM $2 AS new_contact,
           m.extension, m.active
    FROM contact_identifiers p
    JOIN contacts c ON c.id = p.contact_id
    LEFT JOIN managers m ON m.id = c.responsible_id
    WHERE p.kind = 'phone' AND p.value = $4
)
SELECT EXISTS (SELECT 1 FROM claim) AS claimed,
       found.contact_id, found.new_contact, found.extension, found.active,
       EXISTS (SELECT 1 FROM inbox WHERE call_id = $1 AND dedup_key <> $5)
           OR EXISTS (SELECT 1 FROM inbox WHERE entry_id = $2 AND kind = 'call_finished') AS moved_on,
       (SELECT extract(epoch FROM clock_timestamp() - received_at)::float8
          FROM inbox WHERE dedup_key = $5) AS age_s
FROM (SELECT 1) AS one
LEFT JOIN found ON true;

-- name: route_progress
-- The same "has the caller left the IVR" check, after waiting for the rate limit.
SELECT EXISTS (SELECT 1 FROM inbox WHERE call_id = $1 AND dedup_key <> $2)
       OR EXISTS (SELECT 1 FROM inbox WHERE entry_id = $3 AND kind = 'call_finished') AS moved_on,
       (SELECT extract(epoch FROM clock_timestamp() - received_at)::float8
          FROM inbox WHERE dedup_key = $2) AS age_s;

-- name: record_route_outcome
-- The decision and what became of it: on the claimed row, then on the
-- communication. route_result comes from the row, where the PBX's /result/route
-- may already be (it can overtake the command's own answer).
WITH d AS (
    UPDATE route_decisions
    SET reason = $2, target = $6, pbx_outcome = $4,
        command_id = CASE WHEN $5 THEN command_id END,
        sent_at = CASE WHEN $5 THEN now() END
    WHERE call_id = $1
    RETURNING entry_id, command_id, pbx_result
)
UPDATE communications c
SET routed_to = $3, route_reason = $2, route_command_id = d.command_id, route_result = d.pbx_result
FROM d
WHERE c.entry_id = d.entry_id;

-- name: record_route_result
-- The PBX's /result/route for one of our commands (uses the command_id key).
WITH d AS (
    UPDATE route_decisions SET pbx_result = $2
    WHERE command_id = $1
    RETURNING entry_id
)
UPDATE communications c
SET route_result = $2
FROM d
WHERE c.entry_id = d.entry_id AND c.route_command_id IS NOT DISTINCT FROM $1;

-- name: manager_active
-- Click-to-call rings only a manager the PBX still lists.
SELECT active FROM managers WHERE extension = $1;

-- name: reserve_route_slot
-- The next slot of the PBX's route limit, shared by every daemon (GCRA on the one
-- row of route_rate_bucket, by its primary key). $1: seconds between routes at the
-- limit's rate; $2: the burst tolerance in seconds; $3: the longest wait the caller
-- accepts. A slot further off than that is not taken (no row returned); otherwise
-- the slot is taken and wait_s says how long until it starts (0: now).
UPDATE route_rate_bucket b
SET tat = greatest(b.tat, c.now) + make_interval(secs => $1)
FROM (SELECT clock_timestamp() AS now) c
WHERE b.id = 1
  AND greatest(b.tat, c.now) - make_interval(secs => $2) <= c.now + make_interval(secs => $3)
RETURNING greatest(0, extract(epoch FROM b.tat - make_interval(secs => $1 + $2) - c.now))::float8 AS wait_s;
