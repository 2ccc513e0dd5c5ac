-- The manager's screen: every change of a call's communication is
-- announced on the channel callbridge_calls, with the call's entry_id as payload.
-- NOTIFY is transactional: it is delivered when the pipeline's transaction
-- commits (never for one rolled back), identical payloads of one transaction
-- are folded into one, and every daemon LISTENing hears it, whichever daemon
-- stored the event. A trigger keeps the pipeline's Python untouched.
CREATE FUNCTION callbridge_notify_call() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('callbridge_calls', NEW.entry_id);
    RETURN NULL;
END;
$$;

CREATE TRIGGER communications_notify_call
    AFTER INSERT OR UPDATE ON communications
    FOR EACH ROW EXECUTE FUNCTION callbridge_notify_call();
