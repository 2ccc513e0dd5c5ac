-- The analytics' summary (inquiry_facts) is recomputed after an UPDATE of communications only
-- when the update changed a column the facts are made of.
--
-- The facts of an inquiry, and of the same person's, contact's and lead's other inquiries,
-- are a function of these columns of communications (inquiry_facts_source, 0019): channel,
-- status, ad_source, line_number, manager_extension, started_at, answered_at, ended_at,
-- contact_id, lead_id, entry_id, direction and phone; the other tables they read (contacts,
-- leads, trips) keep them with triggers of their own. A chat's next message changes none of
-- them (its text, message count and times of the last message and reply), nor do most of a
-- call's events; each still had its contact's and lead's inquiries recomputed: 0.7 ms of
-- PostgreSQL's time per message in the messenger bench. Rows whose facts' columns are all as
-- they were are left out before anything is recomputed; an update that changes one of them
-- is handled exactly as by 0019's function (tests/integration/test_inquiry_facts.py compares
-- the table with its view after each kind of change).

CREATE FUNCTION inquiry_facts_after_update_v3() RETURNS trigger
LANGUAGE plpgsql SET enable_seqscan = off AS $$
BEGIN
    PERFORM inquiry_facts_refresh_v2(inquiry_facts_touched_v2(ARRAY(
        SELECT side FROM (
            SELECT n::communications AS r, o::communications AS s FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE (n.channel, n.status, n.ad_source, n.line_number, n.manager_extension, n.started_at, n.answered_at,
                   n.ended_at, n.contact_id, n.lead_id, n.entry_id, n.direction, n.phone)
                  IS DISTINCT FROM
                  (o.channel, o.status, o.ad_source, o.line_number, o.manager_extension, o.started_at, o.answered_at,
                   o.ended_at, o.contact_id, o.lead_id, o.entry_id, o.direction, o.phone)
        ) AS changed
        CROSS JOIN LATERAL (VALUES (changed.r), (changed.s)) AS both_sides (side))));
    RETURN NULL;
END
$$;

DROP TRIGGER inquiry_facts_communications_update ON communications;
CREATE TRIGGER inquiry_facts_communications_update AFTER UPDATE ON communications
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION inquiry_facts_after_update_v3();
