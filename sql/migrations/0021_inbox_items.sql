-- The inbox: one queue of everything unanswered (missed calls not called back,
-- inquiries not answered), with a response clock and an assignment per item.
--
-- The table `inbox` is the PBX's raw events (migration 0001); this queue is
-- `inbox_items`. Items are made and closed by a trigger on `communications`, in
-- the transaction that writes the communication, whoever writes it: the call
-- pipeline, the inquiry projector, a merge, the outbox setting `replied_at`. So
-- the core imports no inbox code, no second daemon can miss a change, and a
-- read is one indexed scan of the open items instead of the report's
-- per-caller aggregation. The clock (due_at, from the office calendar, which
-- only the daemon's settings know) and the assignment are the daemon's sweep
-- (daemon/inbox/sweep.py), state here, steps claimed with SKIP LOCKED.


-- The morning report's rule, in one place: the caller was reached after `p_at`
-- when an answered call with that number, either way, started later.
-- sql/queries/reports.sql (missed_callers) and the inbox trigger both call it.
-- Uses communications_phone_idx.
CREATE FUNCTION callbridge_reached_after_v1(p_phone text, p_at timestamptz) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM communications later
        WHERE later.phone = p_phone
          AND later.status = 'answered'
          AND later.direction IN ('inbound', 'outbound')
          AND later.started_at > p_at)
$$;


CREATE TABLE inbox_items (
    id                  bigserial PRIMARY KEY,
    kind                text NOT NULL CHECK (kind IN ('call', 'inquiry', 'task')),
    -- A call or an inquiry is a communication; a task (a reminder) will be a row
    -- of its own table, named here by task_id, and joins the same queue and clock.
    communication_id    bigint UNIQUE REFERENCES communications (id) ON DELETE CASCADE,
    task_id             bigint,
    contact_id          bigint REFERENCES contacts (id) ON DELETE SET NULL,
    phone               text,
    channel             text NOT NULL,
    source              text,
    received_at         timestamptz NOT NULL,
    -- Set by the sweep from the office calendar and [sla]; NULL for a moment after the item is made.
    due_at              timestamptz,
    state               text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed')),
    assigned_extension  text,
    assign_reason       text CHECK (assign_reason IN ('responsible', 'balanced', 'queued', 'escalated')),
    assigned_at         timestamptz,
    -- When each step of the clock fired (once: claimed with SKIP LOCKED).
    overdue_at          timestamptz,
    escalated_at        timestamptz,
    closed_at           timestamptz,
    closed_reason       text CHECK (closed_reason IN ('replied', 'called_back', 'answered', 'done')),
    closed_by           text,
    closed_note         text,
    -- Counted in callbridge_first_response_seconds (by one daemon: claimed with SKIP LOCKED).
    observed            boolean NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT inbox_items_subject CHECK (
        CASE kind WHEN 'task' THEN task_id IS NOT NULL ELSE communication_id IS NOT NULL END),
    CONSTRAINT inbox_items_closed CHECK ((state = 'closed') = (closed_at IS NOT NULL))
);
-- One open call item per caller: a second miss before the call back joins the first.
CREATE UNIQUE INDEX inbox_items_open_caller_idx ON inbox_items (phone) WHERE kind = 'call' AND state = 'open';
CREATE UNIQUE INDEX inbox_items_task_idx ON inbox_items (task_id) WHERE task_id IS NOT NULL;
-- The list (overdue first is due_at first: an overdue item is one whose due_at has passed).
CREATE INDEX inbox_items_open_due_idx ON inbox_items (due_at, id) WHERE state = 'open';
CREATE INDEX inbox_items_open_assigned_idx ON inbox_items (assigned_extension, due_at, id) WHERE state = 'open';
-- Closing by a call: the contact's items.
CREATE INDEX inbox_items_open_contact_idx ON inbox_items (contact_id) WHERE state = 'open';
-- The sweep's work: items without a clock, and unassigned ones, oldest first.
CREATE INDEX inbox_items_unclocked_idx ON inbox_items (id) WHERE state = 'open' AND due_at IS NULL;
CREATE INDEX inbox_items_unassigned_idx ON inbox_items (received_at, id)
    WHERE state = 'open' AND assigned_extension IS NULL;
-- The clock's steps: what is still to fire, by due time.
CREATE INDEX inbox_items_overdue_pending_idx ON inbox_items (due_at) WHERE state = 'open' AND overdue_at IS NULL;
CREATE INDEX inbox_items_escalation_pending_idx ON inbox_items (due_at) WHERE state = 'open' AND escalated_at IS NULL;
CREATE INDEX inbox_items_unobserved_idx ON inbox_items (id) WHERE state = 'closed' AND NOT observed;

-- Every assignment decision with its reason (responsible, balanced, queued, escalated).
CREATE TABLE inbox_decisions (
    id          bigserial PRIMARY KEY,
    item_id     bigint NOT NULL REFERENCES inbox_items (id) ON DELETE CASCADE,
    at          timestamptz NOT NULL DEFAULT now(),
    extension   text,
    reason      text NOT NULL,
    previous    text
);
CREATE INDEX inbox_decisions_item_idx ON inbox_decisions (item_id, at);

-- Who is on shift: set by hand (PUT /api/managers/{extension}/shift) ...
CREATE TABLE manager_shifts (
    extension   text PRIMARY KEY,
    on_shift    boolean NOT NULL,
    set_at      timestamptz NOT NULL DEFAULT now()
);
-- ... or signed in to the screen now: each daemon refreshes its screens' rows.
CREATE TABLE screen_presence (
    daemon_id   text NOT NULL,
    extension   text NOT NULL,
    seen_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (daemon_id, extension)
);
CREATE INDEX screen_presence_extension_idx ON screen_presence (extension, seen_at);

-- The extensions on shift at p_now: set on by hand, or with a screen seen within
-- p_presence_s and not set off by hand; never an inactive manager.
CREATE FUNCTION inbox_on_shift_v1(p_now timestamptz, p_presence_s double precision)
RETURNS TABLE (extension text)
LANGUAGE sql STABLE AS $$
    SELECT x.e FROM (
        SELECT s.extension AS e FROM manager_shifts s WHERE s.on_shift
        UNION
        SELECT p.extension FROM screen_presence p
        WHERE p.seen_at > p_now - make_interval(secs => p_presence_s)
          AND NOT EXISTS (SELECT 1 FROM manager_shifts s WHERE s.extension = p.extension AND NOT s.on_shift)
    ) x
    WHERE NOT EXISTS (SELECT 1 FROM managers m WHERE m.extension = x.e AND NOT m.active)
$$;

-- The on-shift manager with the fewest open items (fewer than p_cap, unless NULL),
-- other than p_exclude; NULL when nobody qualifies.
CREATE FUNCTION inbox_least_loaded_v1(p_now timestamptz, p_presence_s double precision, p_cap integer,
                                      p_exclude text)
RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT s.extension
    FROM inbox_on_shift_v1(p_now, p_presence_s) s
    CROSS JOIN LATERAL (SELECT count(*) AS n FROM inbox_items o
                        WHERE o.state = 'open' AND o.assigned_extension = s.extension) c
    WHERE s.extension IS DISTINCT FROM p_exclude AND (p_cap IS NULL OR c.n < p_cap)
    ORDER BY c.n, s.extension
    LIMIT 1
$$;

-- Assign the unassigned open items: to the contact's active responsible manager;
-- else, oldest first, to the least loaded manager on shift under the cap while one
-- has room; the rest wait ('queued', stored once). Only the rows it assigns or
-- queues are touched, so a long queue costs a scan, not a write, per pass. One
-- daemon at a time (a try-lock: the other's sweep skips). Returns the items assigned.
CREATE FUNCTION inbox_assign_v1(p_now timestamptz, p_presence_s double precision, p_cap integer)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
    v_ext text;
    v_done integer := 0;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtextextended('inbox:assign', 0)) THEN
        RETURN 0;
    END IF;
    WITH picked AS (
        SELECT i.id, mg.extension
        FROM inbox_items i
        JOIN contacts ct ON ct.id = i.contact_id
        JOIN managers mg ON mg.id = ct.responsible_id AND mg.active AND mg.extension IS NOT NULL
        WHERE i.state = 'open' AND i.assigned_extension IS NULL
        FOR UPDATE OF i SKIP LOCKED
    ), assigned AS (
        UPDATE inbox_items t SET assigned_extension = p.extension, assign_reason = 'responsible',
                                 assigned_at = p_now, updated_at = now()
        FROM picked p WHERE t.id = p.id
        RETURNING t.id, t.assigned_extension
    )
    INSERT INTO inbox_decisions (item_id, at, extension, reason)
    SELECT id, p_now, assigned_extension, 'responsible' FROM assigned;
    GET DIAGNOSTICS v_done = ROW_COUNT;
    LOOP
        v_ext := inbox_least_loaded_v1(p_now, p_presence_s, p_cap, NULL);
        EXIT WHEN v_ext IS NULL;
        SELECT id INTO v_id FROM inbox_items
        WHERE state = 'open' AND assigned_extension IS NULL
        ORDER BY received_at, id LIMIT 1
        FOR UPDATE SKIP LOCKED;
        EXIT WHEN v_id IS NULL;
        UPDATE inbox_items SET assigned_extension = v_ext, assign_reason = 'balanced', assigned_at = p_now,
                               updated_at = now()
        WHERE id = v_id;
        INSERT INTO inbox_decisions (item_id, at, extension, reason) VALUES (v_id, p_now, v_ext, 'balanced');
        v_done := v_done + 1;
    END LOOP;
    WITH waiting AS (
        UPDATE inbox_items SET assign_reason = 'queued', updated_at = now()
        WHERE id IN (SELECT id FROM inbox_items
                     WHERE state = 'open' AND assigned_extension IS NULL AND assign_reason IS NULL
                     FOR UPDATE SKIP LOCKED)  -- a row a writer holds now is queued next pass
        RETURNING id
    )
    INSERT INTO inbox_decisions (item_id, at, reason) SELECT id, p_now, 'queued' FROM waiting;
    RETURN v_done;
END;
$$;

-- Escalate one open item (its row locked by the caller): to the least loaded
-- other manager on shift (no cap: it is late), else the administrator, else it
-- stays; reason 'escalated' either way. Returns the new extension.
CREATE FUNCTION inbox_escalate_v1(p_id bigint, p_now timestamptz, p_presence_s double precision,
                                  p_admin text)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_prev text;
    v_ext text;
BEGIN
    SELECT assigned_extension INTO v_prev FROM inbox_items WHERE id = p_id;
    v_ext := COALESCE(inbox_least_loaded_v1(p_now, p_presence_s, NULL, v_prev),
                      CASE WHEN p_admin IS DISTINCT FROM v_prev THEN p_admin END, v_prev);
    UPDATE inbox_items SET assigned_extension = v_ext, assign_reason = 'escalated', assigned_at = p_now,
                           escalated_at = p_now, updated_at = now()
    WHERE id = p_id;
    INSERT INTO inbox_decisions (item_id, at, extension, reason, previous) VALUES (p_id, p_now, v_ext, 'escalated', v_prev);
    RETURN v_ext;
END;
$$;

-- Close the open items a communication answers: an answered call (either way)
-- closes its caller's call item and the inquiries of every contact holding that
-- phone, received before it; closed at the call's start (when the person was reached,
-- whenever its events arrive).
CREATE FUNCTION inbox_close_answered_v1(p_phone text, p_contact bigint, p_at timestamptz) RETURNS void
LANGUAGE sql AS $$
    UPDATE inbox_items i SET state = 'closed', closed_at = p_at, closed_reason = 'called_back', updated_at = now()
    WHERE i.state = 'open' AND i.received_at < p_at
      AND ((i.kind = 'call' AND i.phone = p_phone)
           OR (i.kind = 'inquiry' AND (i.phone = p_phone OR i.contact_id = p_contact OR i.contact_id =
               (SELECT d.contact_id FROM contact_identifiers d WHERE d.kind = 'phone' AND d.value = p_phone))))
$$;

-- Whether any phone of the contact (or p_phone) was reached in an answered call after p_at.
CREATE FUNCTION inbox_contact_reached_after_v1(p_contact bigint, p_phone text, p_at timestamptz)
RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT (p_phone IS NOT NULL AND callbridge_reached_after_v1(p_phone, p_at))
        OR EXISTS (SELECT 1 FROM contact_identifiers d
                   WHERE d.contact_id = p_contact AND d.kind = 'phone'
                     AND callbridge_reached_after_v1(d.value, p_at))
$$;

-- The trigger: keep inbox_items in step with communications.
CREATE FUNCTION inbox_track_v1() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.started_at IS NULL THEN
        RETURN NULL;
    END IF;
    IF NEW.channel = 'call' THEN
        IF NEW.direction = 'inbound' AND NEW.status = 'missed' AND NEW.phone IS NOT NULL THEN
            IF NOT callbridge_reached_after_v1(NEW.phone, NEW.started_at) THEN
                INSERT INTO inbox_items (kind, communication_id, contact_id, phone, channel, source, received_at)
                VALUES ('call', NEW.id, NEW.contact_id, NEW.phone, 'call', NEW.ad_source, NEW.started_at)
                ON CONFLICT DO NOTHING;
            END IF;
        ELSIF TG_OP = 'UPDATE' AND OLD.status = 'missed' THEN
            -- The PBX's summary said answered after all: not a miss.
            UPDATE inbox_items SET state = 'closed', closed_at = now(), closed_reason = 'answered', updated_at = now()
            WHERE communication_id = NEW.id AND state = 'open';
        END IF;
        IF NEW.status = 'answered' AND NEW.direction IN ('inbound', 'outbound') AND NEW.phone IS NOT NULL THEN
            PERFORM inbox_close_answered_v1(NEW.phone, NEW.contact_id, NEW.started_at);
        END IF;
        IF TG_OP = 'UPDATE' AND NEW.contact_id IS DISTINCT FROM OLD.contact_id THEN
            UPDATE inbox_items SET contact_id = NEW.contact_id, updated_at = now() WHERE communication_id = NEW.id;
        END IF;
        RETURN NULL;
    END IF;
    -- An inquiry (a form, chat, messenger, e-mail): answered by a reply.
    IF NEW.direction IN ('outbound', 'internal') THEN
        RETURN NULL;
    END IF;
    IF NEW.replied_at IS NOT NULL THEN
        UPDATE inbox_items SET state = 'closed', closed_at = greatest(NEW.replied_at, received_at),
                               closed_reason = 'replied', updated_at = now()
        WHERE communication_id = NEW.id AND state = 'open';
    ELSIF TG_OP = 'INSERT' THEN
        IF NOT inbox_contact_reached_after_v1(NEW.contact_id, NEW.phone, NEW.started_at) THEN
            INSERT INTO inbox_items (kind, communication_id, contact_id, phone, channel, source, received_at)
            VALUES ('inquiry', NEW.id, NEW.contact_id, NEW.phone, NEW.channel, NEW.source, NEW.started_at)
            ON CONFLICT DO NOTHING;
        END IF;
    END IF;
    IF TG_OP = 'UPDATE' AND (NEW.contact_id, NEW.phone) IS DISTINCT FROM (OLD.contact_id, OLD.phone) THEN
        UPDATE inbox_items SET contact_id = NEW.contact_id, phone = NEW.phone, updated_at = now()
        WHERE communication_id = NEW.id;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER communications_inbox_insert
    AFTER INSERT ON communications
    FOR EACH ROW WHEN (NEW.status IN ('missed', 'answered', 'received'))
    EXECUTE FUNCTION inbox_track_v1();
CREATE TRIGGER communications_inbox_update
    AFTER UPDATE ON communications
    FOR EACH ROW
    WHEN ((OLD.status, OLD.direction, OLD.phone, OLD.contact_id, OLD.replied_at, OLD.started_at)
          IS DISTINCT FROM (NEW.status, NEW.direction, NEW.phone, NEW.contact_id, NEW.replied_at, NEW.started_at))
    EXECUTE FUNCTION inbox_track_v1();

-- Every change of the queue is announced on callbridge_inbox: one constant
-- payload, so a transaction's many changed rows fold into one notification; the
-- screens of every daemon re-read their lists.
CREATE FUNCTION inbox_notify_v1() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('callbridge_inbox', '{"type":"inbox"}');
    RETURN NULL;
END;
$$;
CREATE TRIGGER inbox_items_notify
    AFTER INSERT OR UPDATE OR DELETE ON inbox_items
    FOR EACH ROW EXECUTE FUNCTION inbox_notify_v1();

-- Items for what is already waiting: the open inquiries and missed callers of the
-- last week. They waited before the clock existed: their steps count as fired, so
-- the first sweep does not page and e-mail about every one of them.
INSERT INTO inbox_items (kind, communication_id, contact_id, phone, channel, source, received_at,
                         overdue_at, escalated_at)
SELECT DISTINCT ON (CASE WHEN c.channel = 'call' THEN c.phone ELSE c.id::text END)
       CASE WHEN c.channel = 'call' THEN 'call' ELSE 'inquiry' END, c.id, c.contact_id, c.phone, c.channel,
       CASE WHEN c.channel = 'call' THEN c.ad_source ELSE c.source END, c.started_at, now(), now()
FROM communications c
WHERE c.started_at > now() - interval '7 days'
  AND ((c.channel = 'call' AND c.direction = 'inbound' AND c.status = 'missed' AND c.phone IS NOT NULL
        AND NOT callbridge_reached_after_v1(c.phone, c.started_at))
       OR (c.channel <> 'call' AND c.replied_at IS NULL AND c.direction IS DISTINCT FROM 'outbound'
           AND NOT inbox_contact_reached_after_v1(c.contact_id, c.phone, c.started_at)))
ORDER BY CASE WHEN c.channel = 'call' THEN c.phone ELSE c.id::text END, c.started_at
ON CONFLICT DO NOTHING;
