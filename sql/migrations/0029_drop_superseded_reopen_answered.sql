-- Functions no daemon calls any more, dropped (docs/ARCHITECTURE.md, «Database functions are
-- versioned»: the previous version stays for the release after next, then goes):
-- * the unversioned batch functions of 0013, superseded by their _v1/_v2 names in 0018
--   (sql/queries calls only those; no trigger or function names these);
-- * inquiry_facts_after_communications and inquiry_facts_touched of 0017, whose triggers
--   0019 moved to their _v2 (inquiry_facts_refresh of 0017 stays: the triggers on
--   contacts, leads and trips call it).
DROP FUNCTION callbridge_ingest;
DROP FUNCTION callbridge_store_calls;
DROP FUNCTION callbridge_call_states;
DROP FUNCTION callbridge_open_lead;
DROP FUNCTION callbridge_join_open_lead;
DROP FUNCTION callbridge_current_lead;
DROP FUNCTION inquiry_facts_after_communications;
DROP FUNCTION inquiry_facts_touched;


-- A customer who writes again in an answered conversation is back in the queue.
--
-- A chat's messages grow one communication while the conversation lasts, so a
-- message after the reply changed no column the inbox trigger watched (replied_at
-- keeps the first reply: the response-time figures read it), and the item, closed
-- by that reply or by hand, stayed closed: the new message was lost from the queue.
-- Two columns say who wrote last: last_inbound_at, the customer's latest message
-- (sql/queries/inquiries.sql), and last_replied_at, the agency's latest answer (a
-- reply sent by the outbox, or one made in the messenger itself). The customer
-- writing after the latest answer reopens the item with its clock restarted from
-- that message (or makes one, if there is none); an answer after it closes it again.
ALTER TABLE communications ADD COLUMN last_inbound_at timestamptz, ADD COLUMN last_replied_at timestamptz;

CREATE FUNCTION inbox_track_v2() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_answered timestamptz;
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
    -- An inquiry (a form, chat, messenger, e-mail): answered by a reply, until the customer writes again.
    IF NEW.direction IN ('outbound', 'internal') THEN
        RETURN NULL;
    END IF;
    v_answered := greatest(NEW.replied_at, NEW.last_replied_at);
    IF v_answered IS NOT NULL AND (NEW.last_inbound_at IS NULL OR v_answered >= NEW.last_inbound_at) THEN
        UPDATE inbox_items SET state = 'closed', closed_at = greatest(v_answered, received_at),
                               closed_reason = 'replied', updated_at = now()
        WHERE communication_id = NEW.id AND state = 'open';
    ELSIF TG_OP = 'UPDATE' AND NEW.last_inbound_at IS DISTINCT FROM OLD.last_inbound_at
          -- Still waiting (the usual next message): one probe of the unique index, nothing written.
          AND NOT EXISTS (SELECT 1 FROM inbox_items WHERE communication_id = NEW.id AND state = 'open')
          AND NOT inbox_contact_reached_after_v1(NEW.contact_id, NEW.phone, NEW.last_inbound_at) THEN
        UPDATE inbox_items SET state = 'open', received_at = NEW.last_inbound_at, due_at = NULL,
                               overdue_at = NULL, escalated_at = NULL, closed_at = NULL, closed_reason = NULL,
                               closed_by = NULL, closed_note = NULL, observed = false, updated_at = now()
        WHERE communication_id = NEW.id;
        IF NOT FOUND THEN
            INSERT INTO inbox_items (kind, communication_id, contact_id, phone, channel, source, received_at)
            VALUES ('inquiry', NEW.id, NEW.contact_id, NEW.phone, NEW.channel, NEW.source, NEW.last_inbound_at)
            ON CONFLICT DO NOTHING;
        END IF;
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

DROP TRIGGER communications_inbox_insert ON communications;
DROP TRIGGER communications_inbox_update ON communications;
DROP FUNCTION inbox_track_v1;  -- a trigger's function: no daemon calls it
CREATE TRIGGER communications_inbox_insert
    AFTER INSERT ON communications
    FOR EACH ROW WHEN (NEW.status IN ('missed', 'answered', 'received'))
    EXECUTE FUNCTION inbox_track_v2();
CREATE TRIGGER communications_inbox_update
    AFTER UPDATE ON communications
    FOR EACH ROW
    WHEN ((OLD.status, OLD.direction, OLD.phone, OLD.contact_id, OLD.replied_at, OLD.started_at,
           OLD.last_inbound_at, OLD.last_replied_at)
          IS DISTINCT FROM (NEW.status, NEW.direction, NEW.phone, NEW.contact_id, NEW.replied_at, NEW.started_at,
                            NEW.last_inbound_at, NEW.last_replied_at))
    EXECUTE FUNCTION inbox_track_v2();
