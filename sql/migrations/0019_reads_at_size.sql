-- Reads at an agency's real size (1,000,000 contacts).
--
-- A contact's previous lead (callbridge_open_lead_v1: WHERE contact_id = $1 ORDER BY
-- id DESC LIMIT 1) is one probe of (contact_id, id). With (contact_id) alone the
-- planner, on a million leads without fresh statistics, walked leads_pkey backwards
-- instead. The same name, so that every reader of a contact's leads keeps it.
DROP INDEX leads_contact_idx;
CREATE INDEX leads_contact_idx ON leads (contact_id, id);

-- Analytics count distinct contacts and leads per group of a window. Sorting
-- every inquiry of 90 days for each distinct count took most of the read (about
-- 30 ms of CPU each at 100,000 contacts, with the wait's percentile another 40).
-- Each inquiry now carries when the same contact's (and the same lead's)
-- previous inquiry started, overall and with the same ad source, channel, line
-- and manager: an inquiry is the first of its contact in a window and group when
-- that previous one started before the window (or on another day, for days), so
-- a distinct count is a plain count of those rows. "Previous" orders inquiries by
-- (started_at, id). wait_s is the wait to the first answer in clock seconds, as
-- the percentile reads it.
ALTER TABLE inquiry_facts
    ADD COLUMN wait_s double precision,
    ADD COLUMN contact_prev_at timestamptz,
    ADD COLUMN contact_prev_ad_source_at timestamptz,
    ADD COLUMN contact_prev_channel_at timestamptz,
    ADD COLUMN contact_prev_line_at timestamptz,
    ADD COLUMN contact_prev_manager_at timestamptz,
    ADD COLUMN lead_prev_at timestamptz,
    ADD COLUMN lead_prev_ad_source_at timestamptz,
    ADD COLUMN lead_prev_channel_at timestamptz,
    ADD COLUMN lead_prev_line_at timestamptz,
    ADD COLUMN lead_prev_manager_at timestamptz;

-- The same definition as before (analytics_inquiries), with the new columns after
-- it: the previous inquiries by communications_contact_idx and communications_lead_idx.
CREATE OR REPLACE VIEW inquiry_facts_source AS
SELECT c.id AS communication_id, c.channel, c.status, c.ad_source, c.line_number, c.manager_extension,
       c.started_at, c.answered_at, COALESCE(c.ended_at, c.started_at) AS ended_at, c.contact_id, c.lead_id,
       (ct.created_by_entry_id IS NOT NULL AND ct.created_by_entry_id = c.entry_id) AS new_contact,
       (l.opened_by_entry_id IS NOT NULL AND l.opened_by_entry_id = c.entry_id) AS opened_lead,
       l.status AS lead_status, l.reason AS lead_reason,
       (SELECT COALESCE(sum(t.amount), 0) FROM trips t
        WHERE t.lead_id = c.lead_id AND t.status = 'paid') AS lead_revenue,
       r.reached_at,
       CASE WHEN COALESCE(c.answered_at, r.reached_at) IS NOT NULL THEN
           greatest(0, extract(epoch FROM COALESCE(c.answered_at, r.reached_at) - c.started_at))::float8
       END AS wait_s,
       (SELECT max(a.started_at) FROM communications a
        WHERE a.contact_id = c.contact_id AND a.direction = 'inbound' AND (a.started_at, a.id) < (c.started_at, c.id))
           AS contact_prev_at,
       (SELECT max(a.started_at) FROM communications a
        WHERE a.contact_id = c.contact_id AND a.direction = 'inbound' AND (a.started_at, a.id) < (c.started_at, c.id)
          AND a.ad_source IS NOT DISTINCT FROM c.ad_source) AS contact_prev_ad_source_at,
       (SELECT max(a.started_at) FROM communications a
        WHERE a.contact_id = c.contact_id AND a.direction = 'inbound' AND (a.started_at, a.id) < (c.started_at, c.id)
          AND a.channel = c.channel) AS contact_prev_channel_at,
       (SELECT max(a.started_at) FROM communications a
        WHERE a.contact_id = c.contact_id AND a.direction = 'inbound' AND (a.started_at, a.id) < (c.started_at, c.id)
          AND a.line_number IS NOT DISTINCT FROM c.line_number) AS contact_prev_line_at,
       (SELECT max(a.started_at) FROM communications a
        WHERE a.contact_id = c.contact_id AND a.direction = 'inbound' AND (a.started_at, a.id) < (c.started_at, c.id)
          AND a.manager_extension IS NOT DISTINCT FROM c.manager_extension) AS contact_prev_manager_at,
       (SELECT max(a.started_at) FROM communications a
        WHERE a.lead_id = c.lead_id AND a.direction = 'inbound' AND (a.started_at, a.id) < (c.started_at, c.id))
           AS lead_prev_at,
       (SELECT max(a.started_at) FROM communications a
        WHERE a.lead_id = c.lead_id AND a.direction = 'inbound' AND (a.started_at, a.id) < (c.started_at, c.id)
          AND a.ad_source IS NOT DISTINCT FROM c.ad_source) AS lead_prev_ad_source_at,
       (SELECT max(a.started_at) FROM communications a
        WHERE a.lead_id = c.lead_id AND a.direction = 'inbound' AND (a.started_at, a.id) < (c.started_at, c.id)
          AND a.channel = c.channel) AS lead_prev_channel_at,
       (SELECT max(a.started_at) FROM communications a
        WHERE a.lead_id = c.lead_id AND a.direction = 'inbound' AND (a.started_at, a.id) < (c.started_at, c.id)
          AND a.line_number IS NOT DISTINCT FROM c.line_number) AS lead_prev_line_at,
       (SELECT max(a.started_at) FROM communications a
        WHERE a.lead_id = c.lead_id AND a.direction = 'inbound' AND (a.started_at, a.id) < (c.started_at, c.id)
          AND a.manager_extension IS NOT DISTINCT FROM c.manager_extension) AS lead_prev_manager_at
FROM communications c
LEFT JOIN contacts ct ON ct.id = c.contact_id
LEFT JOIN leads l ON l.id = c.lead_id
CROSS JOIN LATERAL (SELECT CASE WHEN c.phone IS NOT NULL THEN
           (SELECT min(a.answered_at) FROM communications a
            WHERE a.phone = c.phone AND a.started_at >= c.started_at AND a.id <> c.id
              AND a.answered_at IS NOT NULL AND a.direction IN ('inbound', 'outbound'))
       WHEN c.contact_id IS NOT NULL THEN
           (SELECT min(a.answered_at) FROM communications a
            WHERE a.contact_id = c.contact_id AND a.started_at >= c.started_at AND a.id <> c.id
              AND a.answered_at IS NOT NULL AND a.direction IN ('inbound', 'outbound'))
       END AS reached_at) AS r
WHERE c.direction = 'inbound' AND c.started_at IS NOT NULL;

-- inquiry_facts_refresh with the new columns in its update (a row whose facts
-- changed is rewritten whole). Its comments are inquiry_facts_refresh's (0017).
CREATE FUNCTION inquiry_facts_refresh_v2(p_ids bigint[]) RETURNS void
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
BEGIN
    IF cardinality(p_ids) = 0 THEN
        RETURN;
    END IF;
    PERFORM 1 FROM (SELECT DISTINCT id FROM unnest(p_ids) AS u (id) ORDER BY id) AS u
    CROSS JOIN LATERAL (SELECT 1 FROM inquiry_facts f WHERE f.communication_id = u.id OFFSET 0 FOR UPDATE) AS l;
    DELETE FROM inquiry_facts WHERE ctid = ANY(ARRAY(
        SELECT f.ctid FROM unnest(p_ids) AS u (id)
        CROSS JOIN LATERAL (SELECT f.ctid FROM inquiry_facts f WHERE f.communication_id = u.id OFFSET 0) AS f
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
        reached_at = EXCLUDED.reached_at, wait_s = EXCLUDED.wait_s,
        contact_prev_at = EXCLUDED.contact_prev_at, contact_prev_ad_source_at = EXCLUDED.contact_prev_ad_source_at,
        contact_prev_channel_at = EXCLUDED.contact_prev_channel_at,
        contact_prev_line_at = EXCLUDED.contact_prev_line_at,
        contact_prev_manager_at = EXCLUDED.contact_prev_manager_at,
        lead_prev_at = EXCLUDED.lead_prev_at, lead_prev_ad_source_at = EXCLUDED.lead_prev_ad_source_at,
        lead_prev_channel_at = EXCLUDED.lead_prev_channel_at, lead_prev_line_at = EXCLUDED.lead_prev_line_at,
        lead_prev_manager_at = EXCLUDED.lead_prev_manager_at
    WHERE f IS DISTINCT FROM EXCLUDED;
END
$$;

-- inquiry_facts_touched, and the same contact's and the same lead's inquiries that
-- started no earlier: a row's arrival, move or departure changes their previous
-- inquiry (the old and the new rows are both passed, as before).
CREATE FUNCTION inquiry_facts_touched_v2(p_rows communications[]) RETURNS bigint[]
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
        WHERE r.answered_at IS NOT NULL AND r.direction IN ('inbound', 'outbound')
        UNION
        SELECT x.id FROM unnest(p_rows) AS r
        CROSS JOIN LATERAL (  -- communications_contact_idx, communications_lead_idx
            SELECT a.id FROM communications a
            WHERE a.contact_id = r.contact_id AND a.started_at >= r.started_at AND a.direction = 'inbound'
            UNION ALL
            SELECT a.id FROM communications a
            WHERE a.lead_id = r.lead_id AND a.started_at >= r.started_at AND a.direction = 'inbound') AS x
        WHERE r.direction = 'inbound' AND r.started_at IS NOT NULL);
END
$$;

CREATE FUNCTION inquiry_facts_after_communications_v2() RETURNS trigger
LANGUAGE plpgsql SET enable_seqscan = off AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM inquiry_facts_refresh_v2(inquiry_facts_touched_v2(ARRAY(SELECT n::communications FROM new_rows n)));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM inquiry_facts_refresh_v2(inquiry_facts_touched_v2(ARRAY(
            SELECT n::communications FROM new_rows n UNION ALL SELECT o::communications FROM old_rows o)));
    ELSE
        PERFORM inquiry_facts_refresh_v2(inquiry_facts_touched_v2(ARRAY(SELECT o::communications FROM old_rows o)));
    END IF;
    RETURN NULL;
END
$$;
DROP TRIGGER inquiry_facts_communications_insert ON communications;
DROP TRIGGER inquiry_facts_communications_update ON communications;
DROP TRIGGER inquiry_facts_communications_delete ON communications;
CREATE TRIGGER inquiry_facts_communications_insert AFTER INSERT ON communications
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION inquiry_facts_after_communications_v2();
CREATE TRIGGER inquiry_facts_communications_update AFTER UPDATE ON communications
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION inquiry_facts_after_communications_v2();
CREATE TRIGGER inquiry_facts_communications_delete AFTER DELETE ON communications
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION inquiry_facts_after_communications_v2();

-- The triggers on contacts, leads and trips keep calling inquiry_facts_refresh (0017):
-- what they change (new_contact, the lead's outcome and revenue) is in its update,
-- and a row it inserts is the view's whole row. The new columns depend on
-- communications only.

-- What is there already.
TRUNCATE inquiry_facts;
INSERT INTO inquiry_facts SELECT * FROM inquiry_facts_source;
ANALYZE inquiry_facts;
