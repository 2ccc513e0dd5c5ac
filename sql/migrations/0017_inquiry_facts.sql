-- One row per inquiry (an inbound communication with a start time) with what it
-- became: its first answer, whether it created its contact or opened its lead,
-- the lead's outcome and revenue. Analytics aggregate this table only
-- (sql/queries/analytics.sql, analytics_figures); counting these facts from the
-- raw tables took 0.5 s at 100k contacts and 6-11 s at 1M.
--
-- inquiry_facts_source is the definition (the same as the named query
-- analytics_inquiries, the reference the tests compare with). The table holds
-- what it says for every inquiry: triggers on communications, contacts, leads
-- and trips recompute, once per statement, the inquiries whose facts the
-- statement's rows can change, from the current state of the tables. Whatever
-- order events arrive in, and however often, the rows end equal to the view.
CREATE TABLE inquiry_facts (
    communication_id   bigint PRIMARY KEY,
    channel            text NOT NULL,
    status             text NOT NULL,
    ad_source          text,
    line_number        text,
    manager_extension  text,
    started_at         timestamptz NOT NULL,
    answered_at        timestamptz,
    ended_at           timestamptz NOT NULL,  -- the start when the end is not known
    contact_id         bigint,
    lead_id            bigint,
    new_contact        boolean NOT NULL,
    opened_lead        boolean NOT NULL,
    lead_status        text,
    lead_reason        text,
    lead_revenue       numeric NOT NULL,
    reached_at         timestamptz  -- the first answered communication with the person after this one
);
-- The analytics' window.
CREATE INDEX inquiry_facts_started_idx ON inquiry_facts (started_at);

CREATE VIEW inquiry_facts_source AS
SELECT c.id AS communication_id, c.channel, c.status, c.ad_source, c.line_number, c.manager_extension,
       c.started_at, c.answered_at, COALESCE(c.ended_at, c.started_at) AS ended_at, c.contact_id, c.lead_id,
       (ct.created_by_entry_id IS NOT NULL AND ct.created_by_entry_id = c.entry_id) AS new_contact,
       (l.opened_by_entry_id IS NOT NULL AND l.opened_by_entry_id = c.entry_id) AS opened_lead,
       l.status AS lead_status, l.reason AS lead_reason,
       (SELECT COALESCE(sum(t.amount), 0) FROM trips t
        WHERE t.lead_id = c.lead_id AND t.status = 'paid') AS lead_revenue,
       CASE WHEN c.phone IS NOT NULL THEN
           (SELECT min(a.answered_at) FROM communications a
            WHERE a.phone = c.phone AND a.started_at >= c.started_at AND a.id <> c.id
              AND a.answered_at IS NOT NULL AND a.direction IN ('inbound', 'outbound'))
       WHEN c.contact_id IS NOT NULL THEN
           (SELECT min(a.answered_at) FROM communications a
            WHERE a.contact_id = c.contact_id AND a.started_at >= c.started_at AND a.id <> c.id
              AND a.answered_at IS NOT NULL AND a.direction IN ('inbound', 'outbound'))
       END AS reached_at
FROM communications c
LEFT JOIN contacts ct ON ct.id = c.contact_id
LEFT JOIN leads l ON l.id = c.lead_id
WHERE c.direction = 'inbound' AND c.started_at IS NOT NULL;

-- Recompute the facts of communications p_ids from the view: insert, update what
-- changed, delete what is no longer an inquiry. Idempotent. The rows are locked
-- first, in one order: a transaction that recomputed them before and has not
-- committed yet (a booking imported while the lead is closed) is waited for, and
-- the recomputation below, a new statement, sees what it wrote.
CREATE FUNCTION inquiry_facts_refresh(p_ids bigint[]) RETURNS void
LANGUAGE sql AS $$
    SELECT 1 FROM inquiry_facts WHERE communication_id = ANY(p_ids) ORDER BY communication_id FOR UPDATE;
    DELETE FROM inquiry_facts f
    WHERE f.communication_id = ANY(p_ids)
      AND NOT EXISTS (SELECT 1 FROM inquiry_facts_source s WHERE s.communication_id = f.communication_id);
    INSERT INTO inquiry_facts AS f
    SELECT * FROM inquiry_facts_source s WHERE s.communication_id = ANY(p_ids)
    ON CONFLICT (communication_id) DO UPDATE
    SET channel = EXCLUDED.channel, status = EXCLUDED.status, ad_source = EXCLUDED.ad_source,
        line_number = EXCLUDED.line_number, manager_extension = EXCLUDED.manager_extension,
        started_at = EXCLUDED.started_at, answered_at = EXCLUDED.answered_at, ended_at = EXCLUDED.ended_at,
        contact_id = EXCLUDED.contact_id, lead_id = EXCLUDED.lead_id, new_contact = EXCLUDED.new_contact,
        opened_lead = EXCLUDED.opened_lead, lead_status = EXCLUDED.lead_status,
        lead_reason = EXCLUDED.lead_reason, lead_revenue = EXCLUDED.lead_revenue,
        reached_at = EXCLUDED.reached_at
    WHERE f IS DISTINCT FROM EXCLUDED;
$$;

-- A communication's change can change its own facts, and the first answer of the
-- same person's inquiries that started no later (by phone; by contact for those
-- without a phone). Both the old and the new rows are passed, so a moved start, a
-- changed phone or a contact merged away leaves no stale first answer behind.
CREATE FUNCTION inquiry_facts_touched(p_rows communications[]) RETURNS bigint[]
LANGUAGE sql STABLE AS $$
    WITH changed AS (
        SELECT r.id, r.direction, r.phone, r.contact_id, r.started_at, r.answered_at FROM unnest(p_rows) AS r
    ), answering AS (
        SELECT * FROM changed WHERE answered_at IS NOT NULL AND direction IN ('inbound', 'outbound')
    )
    SELECT ARRAY(
        SELECT id FROM changed
        UNION
        SELECT x.id FROM answering ch  -- communications_phone_idx
        JOIN communications x ON x.phone = ch.phone AND x.started_at <= ch.started_at
        WHERE x.direction = 'inbound'
        UNION
        SELECT x.id FROM answering ch  -- communications_contact_idx
        JOIN communications x ON x.contact_id = ch.contact_id AND x.started_at <= ch.started_at
        WHERE x.direction = 'inbound' AND x.phone IS NULL);
$$;

-- Transition tables: one refresh per statement, whatever the number of rows
-- (a bulk load, a merge's move of every communication).
CREATE FUNCTION inquiry_facts_after_communications() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM inquiry_facts_refresh(inquiry_facts_touched(ARRAY(SELECT n::communications FROM new_rows n)));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM inquiry_facts_refresh(inquiry_facts_touched(ARRAY(
            SELECT n::communications FROM new_rows n UNION ALL SELECT o::communications FROM old_rows o)));
    ELSE
        PERFORM inquiry_facts_refresh(inquiry_facts_touched(ARRAY(SELECT o::communications FROM old_rows o)));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER inquiry_facts_communications_insert AFTER INSERT ON communications
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION inquiry_facts_after_communications();
CREATE TRIGGER inquiry_facts_communications_update AFTER UPDATE ON communications
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION inquiry_facts_after_communications();
CREATE TRIGGER inquiry_facts_communications_delete AFTER DELETE ON communications
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION inquiry_facts_after_communications();

-- A contact's creating call decides new_contact (a merge moves the communications:
-- the trigger above). A new contact has no communications yet, a deleted one's are
-- updated by its foreign key.
CREATE FUNCTION inquiry_facts_after_contacts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM inquiry_facts_refresh(ARRAY(
        SELECT x.id FROM new_rows n JOIN old_rows o ON o.id = n.id
        JOIN communications x ON x.contact_id = n.id  -- communications_contact_idx
        WHERE n.created_by_entry_id IS DISTINCT FROM o.created_by_entry_id AND x.direction = 'inbound'));
    RETURN NULL;
END
$$;
CREATE TRIGGER inquiry_facts_contacts_update AFTER UPDATE ON contacts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION inquiry_facts_after_contacts();

-- A lead's outcome, reason and opening call.
CREATE FUNCTION inquiry_facts_after_leads() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM inquiry_facts_refresh(ARRAY(
        SELECT x.id FROM new_rows n JOIN old_rows o ON o.id = n.id
        JOIN communications x ON x.lead_id = n.id  -- communications_lead_idx
        WHERE (n.status, n.reason, n.opened_by_entry_id) IS DISTINCT FROM (o.status, o.reason, o.opened_by_entry_id)
          AND x.direction = 'inbound'));
    RETURN NULL;
END
$$;
CREATE TRIGGER inquiry_facts_leads_update AFTER UPDATE ON leads
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION inquiry_facts_after_leads();

-- A lead's revenue is its paid trips'.
CREATE FUNCTION inquiry_facts_after_trips() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM inquiry_facts_refresh(ARRAY(
            SELECT x.id FROM communications x
            WHERE x.lead_id IN (SELECT lead_id FROM new_rows) AND x.direction = 'inbound'));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM inquiry_facts_refresh(ARRAY(
            SELECT x.id FROM communications x
            WHERE x.lead_id IN (SELECT n.lead_id FROM new_rows n JOIN old_rows o ON o.id = n.id
                                WHERE (n.lead_id, n.status, n.amount) IS DISTINCT FROM (o.lead_id, o.status, o.amount)
                                UNION
                                SELECT o.lead_id FROM new_rows n JOIN old_rows o ON o.id = n.id
                                WHERE (n.lead_id, n.status, n.amount) IS DISTINCT FROM (o.lead_id, o.status, o.amount))
              AND x.direction = 'inbound'));
    ELSE
        PERFORM inquiry_facts_refresh(ARRAY(
            SELECT x.id FROM communications x
            WHERE x.lead_id IN (SELECT lead_id FROM old_rows) AND x.direction = 'inbound'));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER inquiry_facts_trips_insert AFTER INSERT ON trips
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION inquiry_facts_after_trips();
CREATE TRIGGER inquiry_facts_trips_update AFTER UPDATE ON trips
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION inquiry_facts_after_trips();
CREATE TRIGGER inquiry_facts_trips_delete AFTER DELETE ON trips
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION inquiry_facts_after_trips();

-- What is there already.
INSERT INTO inquiry_facts SELECT * FROM inquiry_facts_source;

-- Lost clients (sql/queries/lost_clients.sql) sum every contact's paid trips:
-- from this index alone, without visiting the trips.
CREATE INDEX trips_paid_contact_idx ON trips (contact_id) INCLUDE (amount, starts_on, ends_on)
    WHERE status = 'paid' AND contact_id IS NOT NULL;
