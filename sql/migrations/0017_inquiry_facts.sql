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
--
-- Each id is looked up by itself (a LATERAL subquery that is not flattened, OFFSET
-- 0, so by the primary keys), and the plan is kept (planning the view for each call
-- cost 4 ms; 0.5 ms kept). A kept plan of "= ANY(p_ids)" was made once, sometimes
-- while a bulk load's tables were still nearly empty, and then walked a whole index
-- for every later call.
CREATE FUNCTION inquiry_facts_refresh(p_ids bigint[]) RETURNS void
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
BEGIN
    IF cardinality(p_ids) = 0 THEN  -- most statements (a contact's or a lead's other columns)
        RETURN;
    END IF;
    PERFORM 1 FROM (SELECT DISTINCT id FROM unnest(p_ids) AS u (id) ORDER BY id) AS u
    CROSS JOIN LATERAL (SELECT 1 FROM inquiry_facts f WHERE f.communication_id = u.id OFFSET 0 FOR UPDATE) AS l;
    DELETE FROM inquiry_facts WHERE ctid = ANY(ARRAY(
        SELECT f.ctid FROM unnest(p_ids) AS u (id)
        CROSS JOIN LATERAL (SELECT f.ctid FROM inquiry_facts f WHERE f.communication_id = u.id OFFSET 0) AS f
        -- inquiry_facts_source's condition; a scalar subquery, never made an anti-join
        WHERE (SELECT c.id FROM communications c
               WHERE c.id = u.id AND c.direction = 'inbound' AND c.started_at IS NOT NULL) IS NULL));
    INSERT INTO inquiry_facts AS f
    SELECT s.* FROM (SELECT DISTINCT id FROM unnest(p_ids) AS u (id)) AS u
    CROSS JOIN LATERAL (SELECT * FROM inquiry_facts_source v WHERE v.communication_id = u.id OFFSET 0) AS s
    ON CONFLICT (communication_id) DO UPDATE
    SET channel = EXCLUDED.channel, status = EXCLUDED.status, ad_source = EXCLUDED.ad_source,
        line_number = EXCLUDED.line_number, manager_extension = EXCLUDED.manager_extension,
        started_at = EXCLUDED.started_at, answered_at = EXCLUDED.answered_at, ended_at = EXCLUDED.ended_at,
        contact_id = EXCLUDED.contact_id, lead_id = EXCLUDED.lead_id, new_contact = EXCLUDED.new_contact,
        opened_lead = EXCLUDED.opened_lead, lead_status = EXCLUDED.lead_status,
        lead_reason = EXCLUDED.lead_reason, lead_revenue = EXCLUDED.lead_revenue,
        reached_at = EXCLUDED.reached_at
    WHERE f IS DISTINCT FROM EXCLUDED;
END
$$;

-- A communication's change can change its own facts, and the first answer of the
-- same person's inquiries that started no later (by phone; by contact for those
-- without a phone). Both the old and the new rows are passed, so a moved start, a
-- changed phone or a contact merged away leaves no stale first answer behind.
CREATE FUNCTION inquiry_facts_touched(p_rows communications[]) RETURNS bigint[]
-- Planned for each call (cheap: no view), so the plan follows the tables' growth: a
-- plan kept from a bulk load's start walked the whole phone index for every call.
LANGUAGE plpgsql STABLE SET enable_seqscan = off AS $$
BEGIN
    RETURN ARRAY(
        SELECT r.id FROM unnest(p_rows) AS r
        UNION
        SELECT x.id FROM unnest(p_rows) AS r
        CROSS JOIN LATERAL (  -- communications_phone_idx, or communications_contact_idx without a phone
            SELECT a.id FROM communications a
            WHERE a.phone = r.phone AND a.started_at <= r.started_at AND a.direction = 'inbound'
            UNION ALL
            SELECT a.id FROM communications a
            WHERE a.contact_id = r.contact_id AND a.started_at <= r.started_at AND a.direction = 'inbound'
              AND a.phone IS NULL) AS x
        WHERE r.answered_at IS NOT NULL AND r.direction IN ('inbound', 'outbound'));
END
$$;

-- Transition tables: one refresh per statement, whatever the number of rows
-- (a bulk load, a merge's move of every communication).
CREATE FUNCTION inquiry_facts_after_communications() RETURNS trigger
LANGUAGE plpgsql SET enable_seqscan = off AS $$
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
LANGUAGE plpgsql SET enable_seqscan = off AS $$
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
LANGUAGE plpgsql SET enable_seqscan = off AS $$
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
LANGUAGE plpgsql SET enable_seqscan = off AS $$
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
