-- Two summaries the webhooks' writes kept up to date in their own transaction are now
-- brought up to date just after it: the duplicate candidates of the contacts a delivery
-- touched (contact_candidates_refresh, 0.9 ms of PostgreSQL's time per new contact in
-- the messenger bench) and the analytics' facts of the inquiries it touched
-- (inquiry_facts_refresh_v2, 0.7 ms per new inquiry), while the sender waited for its 200.
--
-- The intake's transaction (its ingest statement sets callbridge.settle_later = on, for
-- that transaction only) notes what it touched in settle_pending; the daemon's "settle"
-- task brings the noted rows up to date a moment later, many at once
-- (callbridge_settle_v1); and a read of either summary settles what is still noted first,
-- waiting for what another daemon is settling, so that no reader sees a summary older
-- than a delivery that was already answered. Every other writer (an import, a merge from
-- the screen, a hand edit) keeps them up to date in its own transaction as before.
--
-- settle_pending is an append-only log with no unique key, like contact_score_dirty: a
-- writer never waits on another, nor on the task, which takes rows with SKIP LOCKED.
-- Settling after the commit also finds the pair two concurrent batches make together,
-- which the probe inside each of them missed (neither saw the other's new phone).
CREATE TABLE settle_pending (
    what      text NOT NULL CHECK (what IN ('candidates', 'facts')),
    id        bigint NOT NULL,  -- a contact (candidates) or a communication (facts)
    noted_at  timestamptz NOT NULL DEFAULT now()
);

-- Called only by triggers (not by code), and unchanged for a writer that does not set
-- callbridge.settle_later (a daemon of the previous release): replaced in place.
CREATE OR REPLACE FUNCTION contact_candidates_touch(p_ids bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF cardinality(p_ids) IS DISTINCT FROM 0 AND p_ids IS NOT NULL THEN
        IF current_setting('callbridge.candidates_deferred', true) = 'on' THEN
            INSERT INTO contact_candidates_dirty (contact_id)
            SELECT DISTINCT unnest(p_ids) ON CONFLICT DO NOTHING;
        ELSIF current_setting('callbridge.settle_later', true) = 'on' THEN
            INSERT INTO settle_pending (what, id) SELECT DISTINCT 'candidates', unnest(p_ids);
        ELSE
            PERFORM contact_candidates_refresh(p_ids);
        END IF;
    END IF;
END;
$$;

-- The facts of these communications brought up to date now, or noted for the settle.
CREATE FUNCTION inquiry_facts_touch_v1(p_ids bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF cardinality(p_ids) IS DISTINCT FROM 0 AND p_ids IS NOT NULL THEN
        IF current_setting('callbridge.settle_later', true) = 'on' THEN
            INSERT INTO settle_pending (what, id) SELECT DISTINCT 'facts', unnest(p_ids);
        ELSE
            PERFORM inquiry_facts_refresh_v2(p_ids);
        END IF;
    END IF;
END;
$$;

-- inquiry_facts_after_communications_v2 and inquiry_facts_after_update_v3 (0034) with
-- their refresh through inquiry_facts_touch_v1. What a change touches is still found
-- in the trigger, from its old and new rows.
CREATE FUNCTION inquiry_facts_after_communications_v3() RETURNS trigger
LANGUAGE plpgsql SET enable_seqscan = off AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM inquiry_facts_touch_v1(inquiry_facts_touched_v2(ARRAY(SELECT n::communications FROM new_rows n)));
    ELSE
        PERFORM inquiry_facts_touch_v1(inquiry_facts_touched_v2(ARRAY(SELECT o::communications FROM old_rows o)));
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION inquiry_facts_after_update_v4() RETURNS trigger
LANGUAGE plpgsql SET enable_seqscan = off AS $$
BEGIN
    PERFORM inquiry_facts_touch_v1(inquiry_facts_touched_v2(ARRAY(
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

DROP TRIGGER inquiry_facts_communications_insert ON communications;
CREATE TRIGGER inquiry_facts_communications_insert AFTER INSERT ON communications
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION inquiry_facts_after_communications_v3();
DROP TRIGGER inquiry_facts_communications_update ON communications;
CREATE TRIGGER inquiry_facts_communications_update AFTER UPDATE ON communications
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION inquiry_facts_after_update_v4();
DROP TRIGGER inquiry_facts_communications_delete ON communications;
CREATE TRIGGER inquiry_facts_communications_delete AFTER DELETE ON communications
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION inquiry_facts_after_communications_v3();

-- Up to p_limit noted rows taken, and what they name brought up to date at once (a contact
-- or a communication noted twice, once); how many rows. The task skips rows another daemon
-- holds (p_wait false); a reader waits for them (true), so that it reads only once all
-- that was noted before it is settled.
CREATE FUNCTION callbridge_settle_v1(p_limit int, p_wait boolean) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    v_rows tid[];
    v_taken int;
    v_contacts bigint[];
    v_communications bigint[];
BEGIN
    IF p_wait THEN
        v_rows := ARRAY(SELECT ctid FROM settle_pending LIMIT p_limit FOR UPDATE);
    ELSE
        v_rows := ARRAY(SELECT ctid FROM settle_pending LIMIT p_limit FOR UPDATE SKIP LOCKED);
    END IF;
    WITH taken AS (
        DELETE FROM settle_pending p WHERE p.ctid = ANY (v_rows) RETURNING p.what, p.id
    )
    SELECT count(*),
           array_agg(DISTINCT id ORDER BY id) FILTER (WHERE what = 'candidates'),
           array_agg(DISTINCT id ORDER BY id) FILTER (WHERE what = 'facts')
    INTO v_taken, v_contacts, v_communications FROM taken;
    IF v_contacts IS NOT NULL THEN
        PERFORM contact_candidates_refresh(v_contacts);
    END IF;
    IF v_communications IS NOT NULL THEN
        PERFORM inquiry_facts_refresh_v2(v_communications);
    END IF;
    RETURN v_taken;
END;
$$;
