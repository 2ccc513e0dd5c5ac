-- Named queries of the trips import (daemon/leads/trips.py). Loaded once by daemon/store/queries.py.

-- name: trips_contacts_by_identifiers
-- The holders of the given identifiers (the primary key finds each).
SELECT u.kind, u.value, i.contact_id
FROM unnest($1::text[], $2::text[]) AS u (kind, value)
JOIN contact_identifiers i ON i.kind = u.kind AND i.value = u.value;

-- name: trips_upsert
-- One statement for the whole file: keyed by order number, a re-import updates.
-- A trip keeps the lead it won (lead_id), whatever the file says later. The
-- booking date ($9) is the file's own where it gives one ($10); otherwise an
-- upper bound (when first seen, no later than the trip's start), and the
-- earliest bound seen so far is kept (the primary key probe of order_number).
-- Only a row the file changes is written and returned: the rest are unchanged.
INSERT INTO trips AS t (order_number, contact_id, status, status_raw, amount, starts_on, ends_on,
                        manager_extension, booked_at)
SELECT u.order_number, u.contact_id, u.status, u.status_raw, u.amount, u.starts_on, u.ends_on,
       u.manager_extension,
       CASE WHEN u.given THEN u.booked_at
            ELSE least(u.booked_at, (SELECT o.booked_at FROM trips o WHERE o.order_number = u.order_number)) END
FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::numeric[], $6::date[],
            $7::date[], $8::text[], $9::timestamptz[], $10::boolean[])
     AS u (order_number, contact_id, status, status_raw, amount, starts_on, ends_on, manager_extension,
           booked_at, given)
ON CONFLICT (order_number) DO UPDATE SET
    contact_id = COALESCE(EXCLUDED.contact_id, t.contact_id),
    status = EXCLUDED.status,
    status_raw = EXCLUDED.status_raw,
    amount = EXCLUDED.amount,
    starts_on = EXCLUDED.starts_on,
    ends_on = EXCLUDED.ends_on,
    manager_extension = EXCLUDED.manager_extension,
    booked_at = EXCLUDED.booked_at,
    updated_at = now()
WHERE (t.contact_id, t.status, t.status_raw, t.amount, t.starts_on, t.ends_on, t.manager_extension, t.booked_at)
      IS DISTINCT FROM
      (COALESCE(EXCLUDED.contact_id, t.contact_id), EXCLUDED.status, EXCLUDED.status_raw, EXCLUDED.amount,
       EXCLUDED.starts_on, EXCLUDED.ends_on, EXCLUDED.manager_extension, EXCLUDED.booked_at)
RETURNING (xmax = 0) AS inserted;

-- name: trips_win_leads
-- A booking (not cancelled) made while the buyer's lead was open wins that
-- lead: the lead opened before the booking (for a booking without its own date:
-- before the start of the trip at the latest) and was not closed before it
-- (archived later for quiet counts as open then). Lost, won and merged leads
-- keep the manager's word. Bookings of one order: the trip of $1.
WITH candidates AS (
    SELECT DISTINCT ON (t.id) t.id AS trip_id, l.id AS lead_id, t.booked_at
    FROM trips t
    JOIN leads l ON l.contact_id = t.contact_id
    WHERE t.order_number = ANY ($1::text[]) AND t.lead_id IS NULL AND t.status <> 'cancelled'
      AND l.status IN ('open', 'archived')
      AND l.opened_at <= t.booked_at
      AND (l.closed_at IS NULL OR l.closed_at >= t.booked_at)
    ORDER BY t.id, l.opened_at DESC
), won AS (
    UPDATE leads l SET status = 'won', reason = NULL, closed_at = c.booked_at
    FROM candidates c WHERE l.id = c.lead_id AND l.status IN ('open', 'archived')
    RETURNING l.id
)
UPDATE trips t SET lead_id = c.lead_id
FROM candidates c WHERE t.id = c.trip_id
RETURNING t.lead_id;
