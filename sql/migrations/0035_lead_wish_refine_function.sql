-- One message's wish laid over its lead's as a function, so that the statement filing a
-- message can do it too (sql/queries/inquiries.sql: the lead, the communication and the
-- wish in one round trip), and wish_refine calls the same rule.
--
-- The rule is wish_refine's: each field of $2 (field -> {value, words, communication_id,
-- at}) replaces the stored one unless that one is newer, so a late delivery of an older
-- message refines nothing. The primary key's row lock orders two messages of one lead.
CREATE FUNCTION lead_wish_refine_v1(p_lead_id bigint, p_parsed jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO lead_wishes AS w (lead_id, parsed) VALUES (p_lead_id, p_parsed)
    ON CONFLICT (lead_id) DO UPDATE
    SET parsed = w.parsed || COALESCE((
            SELECT jsonb_object_agg(e.key, e.value)
            FROM jsonb_each(EXCLUDED.parsed) AS e
            WHERE NOT w.parsed ? e.key OR (e.value ->> 'at') >= (w.parsed -> e.key ->> 'at')), '{}'::jsonb),
        updated_at = now();
$$;
