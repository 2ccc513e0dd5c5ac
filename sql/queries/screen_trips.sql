-- name: screen_contact_trips
-- What the caller card says of the contact's trips: how many were paid and for how much in
-- all, and the latest one not cancelled (by its start). Two reads of trips_contact_idx.
SELECT s.paid_trips, s.paid_total, l.starts_on AS last_starts_on, l.ends_on AS last_ends_on,
       l.amount AS last_amount, l.status AS last_status
FROM (SELECT count(*) AS paid_trips, COALESCE(sum(amount), 0) AS paid_total
      FROM trips WHERE contact_id = $1 AND status = 'paid') s
LEFT JOIN LATERAL (
    SELECT starts_on, ends_on, amount, status FROM trips
    WHERE contact_id = $1 AND status <> 'cancelled'
    ORDER BY starts_on DESC NULLS LAST, booked_at DESC
    LIMIT 1
) l ON true;
