-- Named queries of the reminders (daemon/leads/reminders.py). Loaded once by daemon/store/queries.py.

-- name: tasks_refresh
-- Every reminder due by $1 (today, office time; $2 the time zone), each at most once
-- (its kind and key are unique: a second run inserts nothing). Never for a
-- do-not-call, merged or removed contact, nor for a cancelled trip.
--   birthday: three ($3) days before it, once a year;
--   after_trip: «Как съездили?» $4 days after the trip ends, once per trip (trips ended
--     within the last 14 days only, so that an imported history makes no backlog);
--   next_season: $5 days before the anniversary of the contact's last trip's start,
--     once per trip and year.
-- To the contact's responsible manager, else the trip's manager. Due at 10:00 office time.
WITH eligible AS (
    SELECT c.id, c.name, c.birthday, m.extension AS responsible
    FROM contacts c LEFT JOIN managers m ON m.id = c.responsible_id
    WHERE c.merged_into IS NULL AND c.removed_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM contact_identifiers d WHERE d.contact_id = c.id AND d.do_not_call_since IS NOT NULL)
), birthdays AS (
    SELECT e.id, e.responsible, x.day
    FROM eligible e
    CROSS JOIN LATERAL (
        SELECT CASE WHEN this_year >= $1::date THEN this_year
                    ELSE (e.birthday + make_interval(years => (extract(year FROM $1::date) + 1
                                                              - extract(year FROM e.birthday))::int))::date
               END AS day
        FROM (SELECT (e.birthday + make_interval(years => (extract(year FROM $1::date)
                                                           - extract(year FROM e.birthday))::int))::date
              AS this_year) AS y
    ) AS x
    WHERE e.birthday IS NOT NULL AND x.day <= $1::date + $3::int
), trips_ended AS (
    SELECT t.id AS trip_id, e.id, COALESCE(e.responsible, t.manager_extension) AS extension,
           COALESCE(t.ends_on, t.starts_on) + $4::int AS day
    FROM trips t JOIN eligible e ON e.id = t.contact_id
    WHERE t.status <> 'cancelled' AND COALESCE(t.ends_on, t.starts_on) IS NOT NULL
      AND COALESCE(t.ends_on, t.starts_on) + $4::int <= $1::date
      AND COALESCE(t.ends_on, t.starts_on) + $4::int > $1::date - 14
), last_trips AS (
    SELECT DISTINCT ON (t.contact_id) t.id AS trip_id, t.contact_id, t.starts_on, t.manager_extension
    FROM trips t
    WHERE t.status <> 'cancelled' AND t.starts_on IS NOT NULL AND t.contact_id IS NOT NULL
      AND t.starts_on <= $1::date
    ORDER BY t.contact_id, t.starts_on DESC, t.id DESC
), seasons AS (
    SELECT l.trip_id, e.id, COALESCE(e.responsible, l.manager_extension) AS extension, a.anniversary
    FROM last_trips l JOIN eligible e ON e.id = l.contact_id
    CROSS JOIN LATERAL (
        SELECT (l.starts_on + make_interval(years => greatest(1,
                   (extract(year FROM $1::date) - extract(year FROM l.starts_on))::int
                   + CASE WHEN (l.starts_on + make_interval(years => (extract(year FROM $1::date)
                                 - extract(year FROM l.starts_on))::int))::date < $1::date THEN 1 ELSE 0 END
               )))::date AS anniversary
    ) AS a
    WHERE a.anniversary - $5::int <= $1::date AND a.anniversary > $1::date
), wanted AS (
    SELECT 'birthday' AS kind, b.id || ':' || extract(year FROM b.day) AS dedup_key, b.id AS contact_id,
           NULL::bigint AS trip_id, b.responsible AS extension,
           'День рождения ' || to_char(b.day, 'DD.MM') || ': поздравить' AS title, b.day - $3::int AS due_day
    FROM birthdays b
    UNION ALL
    SELECT 'after_trip', t.trip_id::text, t.id, t.trip_id, t.extension, 'Как съездили?', t.day
    FROM trips_ended t
    UNION ALL
    SELECT 'next_season', s.trip_id || ':' || extract(year FROM s.anniversary), s.id, s.trip_id, s.extension,
           'Новый сезон: годовщина поездки ' || to_char(s.anniversary, 'DD.MM.YYYY'), s.anniversary - $5::int
    FROM seasons s
)
INSERT INTO tasks (kind, dedup_key, contact_id, trip_id, extension, title, due_at)
SELECT w.kind, w.dedup_key, w.contact_id, w.trip_id, w.extension, w.title,
       (w.due_day + time '10:00') AT TIME ZONE $2::text
FROM wanted w
ORDER BY w.kind, w.dedup_key
ON CONFLICT (kind, dedup_key) DO NOTHING
RETURNING kind;

-- name: tasks_open
-- Open tasks of extension $1 (every extension's when $1 is NULL) due before $2, the
-- earliest first, ties broken by the contact's score (tasks_open_idx); do-not-call
-- contacts' tasks are left out. $3 rows at most.
SELECT t.id, t.kind, t.contact_id, t.trip_id, t.extension, t.title, t.due_at, t.created_at,
       c.name AS contact_name, p.score,
       (SELECT i.value FROM contact_identifiers i WHERE i.contact_id = c.id AND i.kind = 'phone'
        ORDER BY i.created_at, i.value LIMIT 1) AS phone
FROM tasks t JOIN contacts c ON c.id = t.contact_id
LEFT JOIN contact_profiles p ON p.contact_id = c.id
WHERE t.done_at IS NULL AND ($1::text IS NULL OR t.extension = $1) AND t.due_at < $2
  AND NOT EXISTS (SELECT 1 FROM contact_identifiers d WHERE d.contact_id = c.id AND d.do_not_call_since IS NOT NULL)
ORDER BY t.due_at, p.score DESC NULLS LAST, t.id
LIMIT $3;

-- name: task_done
-- Done by $2; a second call keeps the first time and who. No row: no such task.
UPDATE tasks SET done_at = COALESCE(done_at, now()), done_by = COALESCE(done_by, $2)
WHERE id = $1
RETURNING id, kind, contact_id, trip_id, extension, title, due_at, created_at, done_at, done_by;

-- name: nightly_claim
-- The first daemon (or command) to insert job $1's row for day $2 runs it; the others get no row.
INSERT INTO nightly_runs (job, day) VALUES ($1, $2) ON CONFLICT (job, day) DO NOTHING RETURNING job;

-- name: nightly_finished
UPDATE nightly_runs SET finished_at = now() WHERE job = $1 AND day = $2;

-- name: nightly_unclaim
-- A run that failed gives its day back, so that the next wake tries again.
DELETE FROM nightly_runs WHERE job = $1 AND day = $2 AND finished_at IS NULL;
