-- The event pipeline's writes as two server-side calls.
--
-- A batch of events (daemon.intake.groupcommit) used to cost eight or more round trips
-- in one transaction: the locks with the inbox rows, the calls' events, the new
-- callers' phone locks, their lookups, each new contact and lead (three or four
-- statements apiece), the rows, then COMMIT. On a busy daemon every round trip
-- also waits its turn in the event loop, and every one of them is time the
-- batch's call locks are held. Here the part before Python derives the calls is
-- one call (callbridge_ingest) and the part after it another
-- (callbridge_store_calls), whatever the batch holds; a single event goes the
-- same way as a batch of one.
--
-- Each statement of a PL/pgSQL function takes a fresh snapshot (READ
-- COMMITTED), so what a statement reads after a lock was granted includes
-- whatever the lock's previous holder committed, as with separate round trips.


-- The contact's open lead, locked until commit, and what became of it at p_at (the
-- new communication's time; NULL: now): joined (its activity moved up to p_at), or
-- archived because it had no activity for p_stale_days by then, closed at the moment
-- it went stale as `leads archive` closes it. No row's lead_id: the contact has none open.
CREATE FUNCTION callbridge_current_lead(p_contact bigint, p_at timestamptz, p_stale_days integer,
                                        OUT lead_id bigint, OUT archived boolean)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT id, COALESCE(last_activity_at, opened_at) + make_interval(days => p_stale_days)
               < COALESCE(p_at, now())
    INTO lead_id, archived
    FROM leads WHERE contact_id = p_contact AND status = 'open'
    FOR UPDATE;
    IF lead_id IS NULL THEN
        RETURN;
    END IF;
    IF archived THEN
        UPDATE leads SET status = 'archived',
                         closed_at = COALESCE(last_activity_at, opened_at) + make_interval(days => p_stale_days)
        WHERE id = lead_id AND status = 'open';
    ELSE
        UPDATE leads SET last_activity_at = GREATEST(last_activity_at, COALESCE(p_at, now()))
        WHERE id = lead_id;
    END IF;
END
$$;

-- The contact's open lead, joined, or, when it has none or it went stale by p_at, a
-- new one naming the previous lead.
CREATE FUNCTION callbridge_open_lead(p_contact bigint, p_ad_source text, p_line_number text,
                                     p_entry_id text, p_at timestamptz, p_stale_days integer)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    current_id bigint;
    current_archived boolean;
    previous_id bigint;
    opened bigint;
BEGIN
    SELECT l.lead_id, l.archived INTO current_id, current_archived
    FROM callbridge_current_lead(p_contact, p_at, p_stale_days) AS l;
    IF current_id IS NOT NULL AND NOT current_archived THEN
        RETURN current_id;
    END IF;
    IF current_id IS NOT NULL THEN
        previous_id := current_id;
    ELSE
        SELECT id INTO previous_id FROM leads WHERE contact_id = p_contact ORDER BY id DESC LIMIT 1;
    END IF;
    -- leads_one_open_per_contact makes this race-free: a second opener gets no row.
    INSERT INTO leads (contact_id, ad_source, line_number, opened_by_entry_id, opened_at, last_activity_at,
                       previous_lead_id)
    VALUES (p_contact, p_ad_source, p_line_number, p_entry_id, COALESCE(p_at, now()), COALESCE(p_at, now()),
            previous_id)
    ON CONFLICT (contact_id) WHERE status = 'open' DO NOTHING
    RETURNING id INTO opened;
    IF opened IS NOT NULL THEN
        RETURN opened;
    END IF;
    -- A concurrent call of the same contact opened it first: join that one.
    SELECT id INTO opened FROM leads WHERE contact_id = p_contact AND status = 'open';
    UPDATE leads SET last_activity_at = GREATEST(last_activity_at, COALESCE(p_at, now()))
    WHERE id = opened;
    RETURN opened;
END
$$;

-- The contact's open lead if it is not stale at p_at (a stale one is archived);
-- opens none (an outbound call joins what exists).
CREATE FUNCTION callbridge_join_open_lead(p_contact bigint, p_at timestamptz, p_stale_days integer)
RETURNS bigint
LANGUAGE sql AS $$
    SELECT CASE WHEN l.archived THEN NULL ELSE l.lead_id END
    FROM callbridge_current_lead(p_contact, p_at, p_stale_days) AS l
$$;

-- The state of each call of p_entry_ids, in entry_id order, one row each (a call with
-- no events yet too): its events of p_kinds in stored order, its communication's
-- contact and lead, and whether retention pruned it (then it must not be re-derived).
-- The communication is locked (FOR UPDATE) so that a contact merge committed
-- meanwhile is seen here and not overwritten with the links read before it.
CREATE FUNCTION callbridge_call_states(p_entry_ids text[], p_kinds text[])
RETURNS TABLE (entry_id text, events text[], contact_id bigint, lead_id bigint, pruned boolean)
LANGUAGE sql AS $$
    SELECT e.id,
           ARRAY(SELECT i.event::text FROM inbox i
                 WHERE i.entry_id = e.id AND i.kind = ANY (p_kinds)
                 ORDER BY i.id),
           c.contact_id, c.lead_id,
           EXISTS (SELECT 1 FROM pruned_calls p WHERE p.entry_id = e.id)
    FROM unnest(p_entry_ids) AS e (id)
    LEFT JOIN LATERAL (SELECT m.contact_id, m.lead_id FROM communications m
                       WHERE m.entry_id = e.id FOR UPDATE) AS c ON true
    ORDER BY e.id
$$;

-- Before the derivation: take the batch's call locks (p_locks, each once, sorted,
-- as every batch locker sorts them), put the events in the inbox (a repeat, even
-- of one earlier in the same batch, does not go in), and return
-- * one row per event that went in: its dedup_key (entry_id NULL);
-- * one row per call that got a new event of p_kinds (the call's kinds): its
--   state (callbridge_call_states).
-- Every lock is taken before the first row goes in (the one-row aggregate must
-- finish before the join yields a row); the reads are a later statement, whose
-- snapshot includes whatever the locks' previous holders committed.
CREATE FUNCTION callbridge_ingest(p_dedup_keys text[], p_sources text[], p_paths text[], p_raws text[],
                                  p_kinds_of text[], p_entry_ids text[], p_call_ids text[],
                                  p_events text[], p_locks text[], p_kinds text[])
RETURNS TABLE (dedup_key text, entry_id text, events text[], contact_id bigint, lead_id bigint,
               pruned boolean)
LANGUAGE plpgsql AS $$
DECLARE
    inserted text[];
    changed text[];
BEGIN
    WITH locked AS (
        SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0))) AS n
        FROM (SELECT DISTINCT k FROM unnest(p_locks) AS u (k) ORDER BY k) AS ordered
    ),
    ins AS (
        INSERT INTO inbox (dedup_key, source, path, raw, kind, entry_id, call_id, event)
        SELECT d, s, p, r, k, e, c, ev::jsonb
        FROM locked,
             unnest(p_dedup_keys, p_sources, p_paths, p_raws, p_kinds_of, p_entry_ids, p_call_ids, p_events)
             AS batch (d, s, p, r, k, e, c, ev)
        ON CONFLICT ON CONSTRAINT inbox_dedup_key_key DO NOTHING
        RETURNING inbox.dedup_key, inbox.entry_id, inbox.kind
    )
    SELECT array_agg(ins.dedup_key),
           array_agg(DISTINCT ins.entry_id) FILTER (WHERE ins.entry_id IS NOT NULL AND ins.kind = ANY (p_kinds))
    INTO inserted, changed
    FROM ins;

    RETURN QUERY SELECT u.k, NULL::text, NULL::text[], NULL::bigint, NULL::bigint, NULL::boolean
                 FROM unnest(inserted) AS u (k);
    IF changed IS NOT NULL THEN
        RETURN QUERY SELECT NULL::text, s.entry_id, s.events, s.contact_id, s.lead_id, s.pruned
                     FROM callbridge_call_states(changed, p_kinds) AS s;
    END IF;
END
$$;

-- After the derivation: every derived call of p_calls (a JSON array of objects,
-- keys as below) linked and stored, in order. First the phone locks of the new
-- callers (p_phone_locks, sorted, after the calls' locks: no cycles); then, per call:
-- * an unknown inbound caller becomes a contact carrying the line's ad source, and
--   a contact without an open lead gets one (an outbound call only joins what
--   exists; neither is made while the direction is a guess: direction_certain);
-- * managers first seen on the call are created by extension (the PBX sync fills
--   in names);
-- * the contact and the lead this very call created get the ad source and line
--   learnt since (no-ops unless one is missing);
-- * the communication row is upserted.
-- Returns the contacts made (entry_id, contact_id), for the log.
CREATE FUNCTION callbridge_store_calls(p_calls jsonb, p_phone_locks text[], p_stale_days integer)
RETURNS TABLE (entry_id text, created_contact_id bigint)
LANGUAGE plpgsql AS $$
DECLARE
    c record;
    v_contact bigint;
    v_lead bigint;
    v_fill_contact bigint;
    v_fill_lead bigint;
    v_inbound boolean;
    v_at timestamptz;
    v_manager bigint;
    v_managers_known boolean;
    v_filled bigint;
BEGIN
    IF cardinality(p_phone_locks) > 0 THEN
        PERFORM count(pg_advisory_xact_lock(hashtextextended(k, 0)))
        FROM (SELECT DISTINCT k FROM unnest(p_phone_locks) AS u (k) ORDER BY k) AS ordered;
    END IF;

    -- Each statement below costs a little of its own, whatever it does (about 0.1 ms
    -- on the 2-core benchmark machine): the usual call (it has its contact and lead,
    -- and its managers exist) takes three, its lookups folded into the others.
    FOR c IN
        SELECT x.*, (SELECT l.ad_source FROM lines l WHERE l.line_key = x.line_key) AS ad_source
        FROM jsonb_to_recordset(p_calls) AS x (
            entry_id text, direction text, direction_certain boolean, status text, phone text,
            phone_raw text, contact_id bigint, lead_id bigint, manager_extension text,
            participants text[], line_number text, line_key text, started_at bigint,
            answered_at bigint, ended_at bigint, talk_seconds integer, recording_ids text[],
            disconnect_reason integer, finished boolean, reconciled boolean)
    LOOP
        v_contact := c.contact_id;
        v_lead := c.lead_id;
        v_fill_contact := NULL;
        v_fill_lead := NULL;
        v_inbound := c.direction = 'inbound' AND c.direction_certain;
        v_at := to_timestamp(c.started_at);

        IF v_contact IS NULL AND c.phone IS NOT NULL AND c.direction IN ('inbound', 'outbound') THEN
            -- The hot lookup: one probe of contact_identifiers' primary key.
            v_contact := (SELECT i.contact_id FROM contact_identifiers i
                          WHERE i.kind = 'phone' AND i.value = c.phone);
            IF v_contact IS NULL AND v_inbound THEN
                INSERT INTO contacts (ad_source, created_by_entry_id)
                VALUES (c.ad_source, c.entry_id)
                RETURNING id INTO v_contact;
                INSERT INTO contact_identifiers (kind, value, contact_id) VALUES ('phone', c.phone, v_contact);
                entry_id := c.entry_id;
                created_contact_id := v_contact;
                RETURN NEXT;
            END IF;
        ELSIF v_contact IS NOT NULL THEN
            v_fill_contact := v_contact;
        END IF;

        IF v_contact IS NOT NULL AND v_lead IS NULL THEN
            -- The lead's clock is the call's own time, so a late delivery counts on its day.
            IF v_inbound THEN
                v_lead := callbridge_open_lead(v_contact, c.ad_source, c.line_number, c.entry_id, v_at,
                                               p_stale_days);
            ELSE
                v_lead := callbridge_join_open_lead(v_contact, v_at, p_stale_days);
            END IF;
        ELSIF v_lead IS NOT NULL AND v_inbound THEN
            v_fill_lead := v_lead;
        END IF;

        -- The manager's id, and whether every extension of the call is a manager already.
        SELECT (SELECT m.id FROM managers m WHERE m.extension = c.manager_extension),
               NOT EXISTS (SELECT 1 FROM unnest(array_append(c.participants, c.manager_extension)) AS w (e)
                           WHERE w.e IS NOT NULL
                             AND NOT EXISTS (SELECT 1 FROM managers m WHERE m.extension = w.e))
        INTO v_manager, v_managers_known;
        IF NOT v_managers_known THEN
            INSERT INTO managers (extension)
            SELECT DISTINCT w.e FROM unnest(array_append(c.participants, c.manager_extension)) AS w (e)
            WHERE w.e IS NOT NULL AND NOT EXISTS (SELECT 1 FROM managers m WHERE m.extension = w.e)
            ON CONFLICT (extension) DO NOTHING;
            v_manager := (SELECT m.id FROM managers m WHERE m.extension = c.manager_extension);
        END IF;

        -- The contact and the lead this very call created get what was learnt since.
        IF (v_fill_contact IS NOT NULL AND c.ad_source IS NOT NULL) OR v_fill_lead IS NOT NULL THEN
            WITH filled_contact AS (
                UPDATE contacts SET ad_source = c.ad_source, updated_at = now()
                WHERE id = v_fill_contact AND created_by_entry_id = c.entry_id AND ad_source IS NULL
                  AND c.ad_source IS NOT NULL
                RETURNING 1
            ), filled_lead AS (
                UPDATE leads SET ad_source = COALESCE(leads.ad_source, c.ad_source),
                                 line_number = COALESCE(leads.line_number, c.line_number)
                WHERE id = v_fill_lead AND opened_by_entry_id = c.entry_id
                  AND (leads.ad_source IS NULL OR leads.line_number IS NULL)
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM filled_contact) + (SELECT count(*) FROM filled_lead) INTO v_filled;
        END IF;

        INSERT INTO communications AS m (
            entry_id, channel, direction, status, phone, phone_raw, contact_id, lead_id,
            manager_id, manager_extension, participants, line_number, ad_source,
            started_at, answered_at, ended_at, talk_seconds, recording_ids,
            disconnect_reason, finished, reconciled
        ) VALUES (
            c.entry_id, 'call', c.direction, c.status, c.phone, c.phone_raw, v_contact, v_lead,
            v_manager, c.manager_extension, c.participants, c.line_number, c.ad_source,
            to_timestamp(c.started_at), to_timestamp(c.answered_at), to_timestamp(c.ended_at),
            c.talk_seconds, c.recording_ids, c.disconnect_reason, c.finished, c.reconciled
        )
        ON CONFLICT ON CONSTRAINT communications_entry_id_key DO UPDATE SET
            direction = EXCLUDED.direction,
            status = EXCLUDED.status,
            phone = EXCLUDED.phone,
            phone_raw = EXCLUDED.phone_raw,
            contact_id = EXCLUDED.contact_id,
            lead_id = EXCLUDED.lead_id,
            manager_id = EXCLUDED.manager_id,
            manager_extension = EXCLUDED.manager_extension,
            participants = EXCLUDED.participants,
            line_number = EXCLUDED.line_number,
            ad_source = EXCLUDED.ad_source,
            started_at = EXCLUDED.started_at,
            answered_at = EXCLUDED.answered_at,
            ended_at = EXCLUDED.ended_at,
            talk_seconds = EXCLUDED.talk_seconds,
            recording_ids = EXCLUDED.recording_ids,
            disconnect_reason = EXCLUDED.disconnect_reason,
            finished = EXCLUDED.finished,
            reconciled = EXCLUDED.reconciled,
            updated_at = now();
    END LOOP;
END
$$;
