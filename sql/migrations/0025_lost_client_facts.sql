-- Lost clients (sql/queries/lost_clients.sql) from a summary table: one row per
-- contact with a paid trip, with what the list's conditions read. Computing them
-- took an aggregate of every paid trip and three probes per buyer: 1.5 s of CPU
-- at 1,000,000 contacts (128,000 lost clients), 10 s on the loaded test machine.
--
-- lost_client_facts_source is the definition (the conditions of the list as
-- lost_clients had them). Statement-level triggers on trips, communications,
-- leads, contact_identifiers and contacts recompute the rows of the contacts a
-- statement's rows name; only trips can add a contact to the table, so the other
-- tables' triggers look only at contacts already in it (a call of a contact who
-- never bought costs one probe of the primary key).
CREATE TABLE lost_client_facts (
    contact_id             bigint PRIMARY KEY,
    paid_trips             bigint NOT NULL,
    revenue                numeric NOT NULL,
    last_trip_end          date,
    last_communication_at  timestamptz,  -- the start of the contact's latest communication
    open_lead              boolean NOT NULL,
    do_not_call            boolean NOT NULL,
    active                 boolean NOT NULL  -- neither merged nor removed
);
-- The list's order: the best customers first.
CREATE INDEX lost_client_facts_revenue_idx ON lost_client_facts (revenue DESC, contact_id);

CREATE VIEW lost_client_facts_source AS
SELECT p.contact_id, p.paid_trips, p.revenue, p.last_trip_end,
       (SELECT max(x.started_at) FROM communications x WHERE x.contact_id = p.contact_id)
           AS last_communication_at,
       EXISTS (SELECT 1 FROM leads l WHERE l.contact_id = p.contact_id AND l.status = 'open') AS open_lead,
       EXISTS (SELECT 1 FROM contact_identifiers d WHERE d.contact_id = p.contact_id
               AND d.do_not_call_since IS NOT NULL) AS do_not_call,
       EXISTS (SELECT 1 FROM contacts c WHERE c.id = p.contact_id AND c.merged_into IS NULL
               AND c.removed_at IS NULL) AS active
FROM (SELECT t.contact_id, count(*) AS paid_trips, COALESCE(sum(t.amount), 0) AS revenue,
             max(COALESCE(t.ends_on, t.starts_on)) AS last_trip_end
      FROM trips t
      WHERE t.status = 'paid' AND t.contact_id IS NOT NULL
      GROUP BY t.contact_id) AS p;

-- Recompute the rows of contacts p_ids from the view: insert, update what changed,
-- delete those with no paid trip left. Idempotent. Rows locked first in one order,
-- as inquiry_facts_refresh does; each contact looked up by itself (OFFSET 0:
-- trips_paid_contact_idx), with a plan kept per connection.
CREATE FUNCTION lost_client_facts_refresh_v1(p_ids bigint[]) RETURNS void
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
BEGIN
    IF cardinality(p_ids) = 0 THEN
        RETURN;
    END IF;
    PERFORM 1 FROM (SELECT DISTINCT id FROM unnest(p_ids) AS u (id) WHERE id IS NOT NULL ORDER BY id) AS u
    CROSS JOIN LATERAL (SELECT 1 FROM lost_client_facts f WHERE f.contact_id = u.id OFFSET 0 FOR UPDATE) AS l;
    DELETE FROM lost_client_facts WHERE ctid = ANY(ARRAY(
        SELECT f.ctid FROM unnest(p_ids) AS u (id)
        CROSS JOIN LATERAL (SELECT f.ctid FROM lost_client_facts f WHERE f.contact_id = u.id OFFSET 0) AS f
        WHERE NOT EXISTS (SELECT 1 FROM trips t WHERE t.contact_id = u.id AND t.status = 'paid')));
    INSERT INTO lost_client_facts AS f
    SELECT s.* FROM (SELECT DISTINCT id FROM unnest(p_ids) AS u (id) WHERE id IS NOT NULL) AS u
    CROSS JOIN LATERAL (SELECT * FROM lost_client_facts_source v WHERE v.contact_id = u.id OFFSET 0) AS s
    ON CONFLICT (contact_id) DO UPDATE
    SET paid_trips = EXCLUDED.paid_trips, revenue = EXCLUDED.revenue, last_trip_end = EXCLUDED.last_trip_end,
        last_communication_at = EXCLUDED.last_communication_at, open_lead = EXCLUDED.open_lead,
        do_not_call = EXCLUDED.do_not_call, active = EXCLUDED.active
    WHERE f IS DISTINCT FROM EXCLUDED;
END
$$;

-- p_ids that have a row (the other tables' triggers: only trips add contacts).
CREATE FUNCTION lost_client_facts_refresh_known_v1(p_ids bigint[]) RETURNS void
LANGUAGE plpgsql SET enable_seqscan = off AS $$
BEGIN
    PERFORM lost_client_facts_refresh_v1(ARRAY(
        SELECT u.id FROM (SELECT DISTINCT id FROM unnest(p_ids) AS u (id)) AS u
        WHERE EXISTS (SELECT 1 FROM lost_client_facts f WHERE f.contact_id = u.id)));
END
$$;

CREATE FUNCTION lost_client_facts_after_trips_v1() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM lost_client_facts_refresh_v1(ARRAY(SELECT contact_id FROM new_rows WHERE status = 'paid'));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM lost_client_facts_refresh_v1(ARRAY(
            SELECT n.contact_id FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE (n.contact_id, n.status, n.amount, n.starts_on, n.ends_on)
                  IS DISTINCT FROM (o.contact_id, o.status, o.amount, o.starts_on, o.ends_on)
            UNION
            SELECT o.contact_id FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE (n.contact_id, n.status, n.amount, n.starts_on, n.ends_on)
                  IS DISTINCT FROM (o.contact_id, o.status, o.amount, o.starts_on, o.ends_on)));
    ELSE
        PERFORM lost_client_facts_refresh_v1(ARRAY(SELECT contact_id FROM old_rows WHERE status = 'paid'));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER lost_client_facts_trips_insert AFTER INSERT ON trips
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lost_client_facts_after_trips_v1();
CREATE TRIGGER lost_client_facts_trips_update AFTER UPDATE ON trips
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lost_client_facts_after_trips_v1();
CREATE TRIGGER lost_client_facts_trips_delete AFTER DELETE ON trips
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION lost_client_facts_after_trips_v1();

-- A communication's start and contact (a merge moves them): the contact's last one.
-- Most statements on communications are a call's state changing: no contact named.
CREATE FUNCTION lost_client_facts_after_communications_v1() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM lost_client_facts_refresh_known_v1(ARRAY(
            SELECT contact_id FROM new_rows WHERE contact_id IS NOT NULL AND started_at IS NOT NULL));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM lost_client_facts_refresh_known_v1(ARRAY(
            SELECT unnest(ARRAY[n.contact_id, o.contact_id]) FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE (n.contact_id, n.started_at) IS DISTINCT FROM (o.contact_id, o.started_at)));
    ELSE
        PERFORM lost_client_facts_refresh_known_v1(ARRAY(SELECT contact_id FROM old_rows));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER lost_client_facts_communications_insert AFTER INSERT ON communications
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lost_client_facts_after_communications_v1();
CREATE TRIGGER lost_client_facts_communications_update AFTER UPDATE ON communications
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lost_client_facts_after_communications_v1();
CREATE TRIGGER lost_client_facts_communications_delete AFTER DELETE ON communications
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION lost_client_facts_after_communications_v1();

-- An open lead (opened, closed, moved by a merge).
CREATE FUNCTION lost_client_facts_after_leads_v1() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM lost_client_facts_refresh_known_v1(ARRAY(SELECT contact_id FROM new_rows WHERE status = 'open'));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM lost_client_facts_refresh_known_v1(ARRAY(
            SELECT unnest(ARRAY[n.contact_id, o.contact_id]) FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE (n.contact_id, n.status) IS DISTINCT FROM (o.contact_id, o.status)));
    ELSE
        PERFORM lost_client_facts_refresh_known_v1(ARRAY(SELECT contact_id FROM old_rows WHERE status = 'open'));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER lost_client_facts_leads_insert AFTER INSERT ON leads
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lost_client_facts_after_leads_v1();
CREATE TRIGGER lost_client_facts_leads_update AFTER UPDATE ON leads
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lost_client_facts_after_leads_v1();
CREATE TRIGGER lost_client_facts_leads_delete AFTER DELETE ON leads
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION lost_client_facts_after_leads_v1();

-- «Не звонить» on an identifier, and identifiers moved by a merge.
CREATE FUNCTION lost_client_facts_after_identifiers_v1() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM lost_client_facts_refresh_known_v1(ARRAY(
            SELECT contact_id FROM new_rows WHERE do_not_call_since IS NOT NULL));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM lost_client_facts_refresh_known_v1(ARRAY(
            SELECT unnest(ARRAY[n.contact_id, o.contact_id]) FROM new_rows n JOIN old_rows o
                ON o.kind = n.kind AND o.value = n.value
            WHERE (n.contact_id, n.do_not_call_since) IS DISTINCT FROM (o.contact_id, o.do_not_call_since)));
    ELSE
        PERFORM lost_client_facts_refresh_known_v1(ARRAY(
            SELECT contact_id FROM old_rows WHERE do_not_call_since IS NOT NULL));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER lost_client_facts_identifiers_insert AFTER INSERT ON contact_identifiers
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lost_client_facts_after_identifiers_v1();
CREATE TRIGGER lost_client_facts_identifiers_update AFTER UPDATE ON contact_identifiers
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lost_client_facts_after_identifiers_v1();
CREATE TRIGGER lost_client_facts_identifiers_delete AFTER DELETE ON contact_identifiers
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION lost_client_facts_after_identifiers_v1();

-- A contact merged away or removed (or back). A deleted contact's trips lose it
-- (ON DELETE SET NULL): the trips' trigger.
CREATE FUNCTION lost_client_facts_after_contacts_v1() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM lost_client_facts_refresh_known_v1(ARRAY(
        SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE (n.merged_into, n.removed_at) IS DISTINCT FROM (o.merged_into, o.removed_at)));
    RETURN NULL;
END
$$;
CREATE TRIGGER lost_client_facts_contacts_update AFTER UPDATE ON contacts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lost_client_facts_after_contacts_v1();

-- What is there already.
INSERT INTO lost_client_facts SELECT * FROM lost_client_facts_source;
ANALYZE lost_client_facts;

-- «Не звонить» is on a few identifiers of a million: the missed report asks for each
-- caller's (by contact, and by the number) and found it by visiting every identifier
-- of the contact. These indexes hold only the marked ones, so a caller without a
-- mark costs one probe of an almost empty index (1,246 callers at 1,000,000 contacts:
-- 2,500 table visits fewer).
CREATE INDEX contact_identifiers_do_not_call_contact_idx ON contact_identifiers (contact_id)
    WHERE do_not_call_since IS NOT NULL;
CREATE INDEX contact_identifiers_do_not_call_value_idx ON contact_identifiers (kind, value)
    WHERE do_not_call_since IS NOT NULL;
