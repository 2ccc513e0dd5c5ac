-- The manager's screen: notify only on a change a screen can see.
-- The trigger of 0003 fired on every write of a communication, and the pipeline
-- re-derives the row for every event of a call, so a recording event, a repeated
-- leg or a reconcile that changed nothing still woke every daemon's listener and
-- made each re-read the call and push the same card to its screens.
--
-- What a screen can see: the communication's columns its caller card shows (and
-- those it is joined by: contact_id, manager_id, lead_id), and the call's leg
-- events, which tell which extension rings, talks or rang: a leg that stops
-- ringing at one extension may leave the row as it was, so a leg stored in the
-- inbox notifies by itself. NOTIFY folds identical payloads of one transaction,
-- so a leg that also changes the row is still announced once.
DROP TRIGGER communications_notify_call ON communications;

CREATE TRIGGER communications_notify_call
    AFTER INSERT ON communications
    FOR EACH ROW EXECUTE FUNCTION callbridge_notify_call();

CREATE TRIGGER communications_notify_call_change
    AFTER UPDATE ON communications
    FOR EACH ROW
    WHEN ((OLD.status, OLD.direction, OLD.phone, OLD.phone_raw, OLD.contact_id, OLD.lead_id,
           OLD.manager_id, OLD.manager_extension, OLD.participants, OLD.line_number, OLD.ad_source,
           OLD.started_at, OLD.answered_at, OLD.ended_at, OLD.finished, OLD.talk_seconds, OLD.note,
           OLD.routed_to, OLD.route_result)
          IS DISTINCT FROM
          (NEW.status, NEW.direction, NEW.phone, NEW.phone_raw, NEW.contact_id, NEW.lead_id,
           NEW.manager_id, NEW.manager_extension, NEW.participants, NEW.line_number, NEW.ad_source,
           NEW.started_at, NEW.answered_at, NEW.ended_at, NEW.finished, NEW.talk_seconds, NEW.note,
           NEW.routed_to, NEW.route_result))
    EXECUTE FUNCTION callbridge_notify_call();

CREATE TRIGGER inbox_notify_call_leg
    AFTER INSERT ON inbox
    FOR EACH ROW
    WHEN (NEW.kind = 'call_leg' AND NEW.entry_id IS NOT NULL)
    EXECUTE FUNCTION callbridge_notify_call();

-- The PBX's route limit is per product, not per daemon: two
-- daemons pacing themselves each sent twice the allowed rate and collected 429s.
-- One shared schedule for all: the "theoretical arrival time" of the generic
-- cell rate algorithm (GCRA). A daemon reserves the next slot with a single
-- UPDATE ... RETURNING on this row (sql/queries/routing.sql, reserve_route_slot)
-- and waits until then; the row lock orders the daemons, the database's clock
-- is the one clock they share.
CREATE TABLE route_rate_bucket (
    id   smallint PRIMARY KEY CHECK (id = 1),
    tat  timestamptz NOT NULL DEFAULT '-infinity'
);
INSERT INTO route_rate_bucket (id) VALUES (1);
