-- One message's wish laid over its lead's as a function, so that the statement filing a
-- message can do it too (sql/queries/inquiries.sql: the lead, the communication and the
-- wish in one round trip), and wish_refine calls the same rule.
--
-- The rule is wish_refine's: each field of $2 (field -> {value, words, communication_id,
-- at}) replaces the stored one unless that one is newer, so a late delivery of an older
-- message refines nothing. The primary key's row lock orders two messages of one lead.
-- $3, when given, is the message's communication, stamped on every field (the statement
-- that writes the communication learns its id only then).
CREATE FUNCTION lead_wish_refine_v1(p_lead_id bigint, p_parsed jsonb, p_communication_id bigint) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO lead_wishes AS w (lead_id, parsed)
    SELECT p_lead_id, CASE WHEN p_communication_id IS NULL THEN p_parsed ELSE (
               SELECT jsonb_object_agg(e.key, e.value || jsonb_build_object('communication_id', p_communication_id))
               FROM jsonb_each(p_parsed) AS e) END
    ON CONFLICT (lead_id) DO UPDATE
    SET parsed = w.parsed || COALESCE((
            SELECT jsonb_object_agg(e.key, e.value)
            FROM jsonb_each(EXCLUDED.parsed) AS e
            WHERE NOT w.parsed ? e.key OR (e.value ->> 'at') >= (w.parsed -> e.key ->> 'at')), '{}'::jsonb),
        updated_at = now();
$$;
