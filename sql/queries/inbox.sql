-- Named queries of the inbox (daemon/inbox). Loaded once by daemon/store/queries.py.
-- The items are made and closed by migration 0021's trigger; these read them,
-- close them by hand, and run the clock and the assignment.

-- name: inbox_list_all
-- The open items, overdue first (due_at first: overdue is due_at passed), the first $1.
-- Uses inbox_items_open_due_idx, then joins only the page.
WITH page AS (
    SELECT * FROM inbox_items WHERE state = 'open' ORDER BY due_at, id LIMIT $1
)
SELECT p.id, p.kind, p.communication_id, p.task_id, p.contact_id, ct.name, p.phone, p.channel, p.source,
       p.received_at, p.due_at, p.overdue_at, p.assigned_extension, p.assign_reason, COALESCE(left(c.text, 300), tk.title) AS last_text
FROM page p
LEFT JOIN communications c ON c.id = p.communication_id
LEFT JOIN tasks tk ON tk.id = p.task_id
LEFT JOIN contacts ct ON ct.id = p.contact_id
ORDER BY p.due_at, p.id;

-- name: inbox_list_assigned
-- The open items assigned to $1 (uses inbox_items_open_assigned_idx), the first $2.
WITH page AS (
    SELECT * FROM inbox_items WHERE state = 'open' AND assigned_extension = $1 ORDER BY due_at, id LIMIT $2
)
SELECT p.id, p.kind, p.communication_id, p.task_id, p.contact_id, ct.name, p.phone, p.channel, p.source,
       p.received_at, p.due_at, p.overdue_at, p.assigned_extension, p.assign_reason, COALESCE(left(c.text, 300), tk.title) AS last_text
FROM page p
LEFT JOIN communications c ON c.id = p.communication_id
LEFT JOIN tasks tk ON tk.id = p.task_id
LEFT JOIN contacts ct ON ct.id = p.contact_id
ORDER BY p.due_at, p.id;

-- name: inbox_list_screen
-- What a manager's screen lists: his open items and those nobody has yet, the first $2.
WITH page AS (
    SELECT * FROM inbox_items
    WHERE state = 'open' AND (assigned_extension = $1 OR assigned_extension IS NULL)
    ORDER BY due_at, id LIMIT $2
)
SELECT p.id, p.kind, p.communication_id, p.task_id, p.contact_id, ct.name, p.phone, p.channel, p.source,
       p.received_at, p.due_at, p.overdue_at, p.assigned_extension, p.assign_reason, COALESCE(left(c.text, 300), tk.title) AS last_text
FROM page p
LEFT JOIN communications c ON c.id = p.communication_id
LEFT JOIN tasks tk ON tk.id = p.task_id
LEFT JOIN contacts ct ON ct.id = p.contact_id
ORDER BY p.due_at, p.id;

-- name: inbox_count_all
SELECT count(*) FROM inbox_items WHERE state = 'open';

-- name: inbox_count_assigned
SELECT count(*) FROM inbox_items WHERE state = 'open' AND assigned_extension = $1;

-- name: inbox_count_screen
SELECT count(*) FROM inbox_items WHERE state = 'open' AND (assigned_extension = $1 OR assigned_extension IS NULL);

-- name: inbox_item
SELECT p.id, p.kind, p.communication_id, p.task_id, p.contact_id, ct.name, p.phone, p.channel, p.source,
       p.received_at, p.due_at, p.overdue_at, p.assigned_extension, p.assign_reason, COALESCE(left(c.text, 300), tk.title) AS last_text,
       p.state, p.closed_at, p.closed_reason, p.closed_by, p.closed_note
FROM inbox_items p
LEFT JOIN communications c ON c.id = p.communication_id
LEFT JOIN tasks tk ON tk.id = p.task_id
LEFT JOIN contacts ct ON ct.id = p.contact_id
WHERE p.id = $1;

-- name: inbox_done
-- A manager closes an open item ($2 his extension, $3 why); no row when it is not open.
UPDATE inbox_items
SET state = 'closed', closed_at = now(), closed_reason = 'done', closed_by = $2, closed_note = $3, updated_at = now()
WHERE id = $1 AND state = 'open'
RETURNING id, state, closed_at, closed_reason, closed_by, closed_note;

-- name: inbox_state
SELECT state FROM inbox_items WHERE id = $1;

-- name: inbox_decisions
SELECT at, extension, reason, previous FROM inbox_decisions WHERE item_id = $1 ORDER BY at, id;

-- name: manager_shift_set
INSERT INTO manager_shifts (extension, on_shift, set_at) VALUES ($1, $2, now())
ON CONFLICT (extension) DO UPDATE SET on_shift = EXCLUDED.on_shift, set_at = EXCLUDED.set_at
RETURNING extension, on_shift, set_at;

-- name: manager_on_shift
SELECT EXISTS (SELECT 1 FROM inbox_on_shift_v1($2, $3) s WHERE s.extension = $1);

-- name: screen_presence_refresh
-- This daemon's signed-in extensions ($2) seen at $3; its others are gone.
WITH gone AS (
    DELETE FROM screen_presence WHERE daemon_id = $1 AND extension <> ALL ($2::text[])
)
INSERT INTO screen_presence (daemon_id, extension, seen_at)
SELECT $1, e, $3 FROM unnest($2::text[]) AS e
ON CONFLICT (daemon_id, extension) DO UPDATE SET seen_at = EXCLUDED.seen_at;

-- name: screen_signed_in
-- A sign-in to the screen says "at work": an earlier "off shift" by hand no longer holds.
DELETE FROM manager_shifts WHERE extension = $1 AND NOT on_shift;

-- name: screen_presence_forget
DELETE FROM screen_presence WHERE daemon_id = $1;

-- name: inbox_unclocked
-- Items without a due time yet, for the sweep to clock (any daemon; each row once at a time).
SELECT id, channel, received_at FROM inbox_items
WHERE state = 'open' AND due_at IS NULL
ORDER BY id LIMIT $1
FOR UPDATE SKIP LOCKED;

-- name: inbox_set_due
UPDATE inbox_items i SET due_at = d.due_at, updated_at = now()
FROM unnest($1::bigint[], $2::timestamptz[]) AS d(id, due_at)
WHERE i.id = d.id;

-- name: inbox_assign
SELECT inbox_assign_v1($1, $2, $3);

-- name: inbox_overdue_claim
-- The overdue step: items whose due time ($1 is now) has passed, each claimed once.
-- Uses inbox_items_overdue_pending_idx.
UPDATE inbox_items i SET overdue_at = $1, updated_at = now()
FROM (SELECT id FROM inbox_items
      WHERE state = 'open' AND overdue_at IS NULL AND due_at <= $1
      ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED) d
WHERE i.id = d.id
RETURNING i.id, i.assigned_extension;

-- name: inbox_escalation_claim
-- The escalation step: items still open $2 minutes after their due time, locked
-- until the transaction that escalates them ends. Uses inbox_items_escalation_pending_idx.
SELECT id FROM inbox_items
WHERE state = 'open' AND escalated_at IS NULL AND due_at <= $1::timestamptz - make_interval(mins => $2)
  AND kind <> 'task'  -- a reminder is not a customer waiting (migration 0028)
ORDER BY due_at LIMIT $3
FOR UPDATE SKIP LOCKED;

-- name: inbox_escalate
SELECT inbox_escalate_v1($1, $2, $3, $4);

-- name: inbox_notify
SELECT pg_notify('callbridge_inbox', $1);

-- name: inbox_observe_closed
-- Closed items not yet counted in callbridge_first_response_seconds: counted once, by one daemon.
UPDATE inbox_items i SET observed = true
FROM (SELECT id FROM inbox_items WHERE state = 'closed' AND NOT observed
      ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) d
WHERE i.id = d.id
RETURNING i.closed_reason, extract(epoch FROM i.closed_at - i.received_at)::float8 AS seconds;

-- name: inbox_states
-- The open items by state for callbridge_inbox_items: overdue, else queued (nobody has it), else assigned.
SELECT count(*) FILTER (WHERE due_at <= $1) AS overdue,
       count(*) FILTER (WHERE (due_at IS NULL OR due_at > $1) AND assigned_extension IS NULL) AS queued,
       count(*) FILTER (WHERE (due_at IS NULL OR due_at > $1) AND assigned_extension IS NOT NULL) AS assigned
FROM inbox_items WHERE state = 'open';
