-- What the tourist wants, per lead (docs/LEADS.md, «The wish»).
--
-- parsed: what the inquiries said, field by field (destination, dates, nights, …), each
--   {"value", "words", "communication_id", "at"}; a later message's field replaces an
--   earlier one's (the newer "at" wins, so a late delivery does not undo a refinement).
-- edited: what a manager set by hand, field by field, {"value", "by", "at"}; a null value
--   is a field the manager cleared. Parsing never writes here, so a manager's value is
--   never overwritten by a later inquiry; the wish shown is parsed || edited.
CREATE TABLE lead_wishes (
    lead_id     bigint PRIMARY KEY REFERENCES leads (id) ON DELETE CASCADE,
    parsed      jsonb NOT NULL DEFAULT '{}'::jsonb,
    edited      jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT lead_wishes_objects CHECK (jsonb_typeof(parsed) = 'object' AND jsonb_typeof(edited) = 'object')
);
