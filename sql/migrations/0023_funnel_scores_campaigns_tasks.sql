-- 0023: the sales funnel, a score and a profile for every contact, reactivation
-- campaigns that never hand one person to two managers, and reminders as tasks.

-- A lead's stage in the funnel ([funnel] stages). NULL: the first stage, where
-- every lead starts (the lead-opening functions need not know the settings).
ALTER TABLE leads ADD COLUMN stage text, ADD COLUMN stage_at timestamptz;

-- Every move of a lead between stages, any direction: when and who.
CREATE TABLE lead_stages (
    id          bigserial PRIMARY KEY,
    lead_id     bigint NOT NULL REFERENCES leads (id) ON DELETE CASCADE,
    stage       text NOT NULL,
    at          timestamptz NOT NULL DEFAULT now(),
    extension   text
);
CREATE INDEX lead_stages_lead_idx ON lead_stages (lead_id, at, id);
-- The funnel's window: leads opened in it.
CREATE INDEX leads_opened_idx ON leads (opened_at);

-- The contact's score (0..100) and why, his preferred channel (computed unless
-- set by hand) and how he first came (never overwritten: the earliest is kept).
-- A table of its own, one row per contact: the nightly refresh rewrites scores of
-- the whole base, and rows here are narrow and indexed by their key only (HOT
-- updates), where contacts carries the name indexes and the merge triggers.
CREATE TABLE contact_profiles (
    contact_id                 bigint PRIMARY KEY REFERENCES contacts (id) ON DELETE CASCADE,
    score                      smallint,
    score_reasons              jsonb,
    score_at                   timestamptz,
    preferred_channel          text,
    preferred_channel_by_hand  boolean NOT NULL DEFAULT false,
    first_seen_at              timestamptz,
    first_channel              text,
    first_ad_source            text
) WITH (fillfactor = 80);

-- Contacts whose score inputs changed since the last refresh: an append-only
-- log (no unique key, so a writer never waits on another), emptied by the
-- daemon's score task with FOR UPDATE SKIP LOCKED.
CREATE TABLE contact_score_dirty (
    contact_id  bigint NOT NULL,
    marked_at   timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION contact_score_mark_v1() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO contact_score_dirty (contact_id)
    SELECT DISTINCT contact_id FROM new_rows WHERE contact_id IS NOT NULL;
    RETURN NULL;
END
$$;

CREATE TRIGGER communications_score_insert AFTER INSERT ON communications
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION contact_score_mark_v1();
CREATE TRIGGER communications_score_update AFTER UPDATE ON communications
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION contact_score_mark_v1();
CREATE TRIGGER trips_score_insert AFTER INSERT ON trips
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION contact_score_mark_v1();
CREATE TRIGGER trips_score_update AFTER UPDATE ON trips
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION contact_score_mark_v1();
CREATE TRIGGER leads_score_insert AFTER INSERT ON leads
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION contact_score_mark_v1();
CREATE TRIGGER leads_score_update AFTER UPDATE ON leads
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION contact_score_mark_v1();
CREATE TRIGGER contact_identifiers_score_update AFTER UPDATE ON contact_identifiers
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION contact_score_mark_v1();

-- Reactivation campaigns: a segment frozen at creation, called by a few managers.
CREATE TABLE campaigns (
    id           bigserial PRIMARY KEY,
    name         text NOT NULL,
    segment      jsonb NOT NULL,
    extensions   text[] NOT NULL,
    claim_days   integer NOT NULL CHECK (claim_days >= 1),
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- One row per contact of a campaign; score is the contact's at creation (the order of `next`).
CREATE TABLE campaign_contacts (
    campaign_id   bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    contact_id    bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    score         smallint NOT NULL DEFAULT 0,
    has_phone     boolean NOT NULL,
    claimed_by    text,
    claimed_at    timestamptz,
    outcome       text CHECK (outcome IN ('interested', 'refused', 'unreachable', 'do_not_call')),
    reason        text,
    outcome_at    timestamptz,
    lead_id       bigint REFERENCES leads (id) ON DELETE SET NULL,
    rest_until    timestamptz,
    PRIMARY KEY (campaign_id, contact_id)
);
-- `next`: the best unclaimed callable contact of a campaign is the first entry. A contact
-- someone called (or another campaign holds) rests until claim_days after that, out of
-- this index, so that no later `next` walks past him again.
CREATE INDEX campaign_contacts_next_idx ON campaign_contacts (campaign_id, score DESC, contact_id)
    WHERE claimed_at IS NULL AND has_phone AND rest_until IS NULL;
CREATE INDEX campaign_contacts_resting_idx ON campaign_contacts (campaign_id, rest_until)
    WHERE claimed_at IS NULL AND rest_until IS NOT NULL;
CREATE INDEX campaign_contacts_contact_idx ON campaign_contacts (contact_id);
CREATE INDEX campaign_contacts_lead_idx ON campaign_contacts (lead_id) WHERE lead_id IS NOT NULL;

-- Who holds a contact for calling, across every campaign: the unique key is the
-- claim, so two managers asking at once can never both get one person.
CREATE TABLE contact_claims (
    contact_id    bigint PRIMARY KEY REFERENCES contacts (id) ON DELETE CASCADE,
    campaign_id   bigint NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    extension     text NOT NULL,
    claimed_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contact_claims_campaign_idx ON contact_claims (campaign_id);

-- `next` in one call: claim for p_extension the best contact of campaign p_campaign
-- that nobody claimed (in any campaign) or called (an outbound call) in the campaign's
-- claim_days before p_now. status: 'claimed' (with contact_id), 'none' (nobody is
-- left), 'no_campaign', or 'not_caller' (the campaign does not name p_extension). Its row is taken FOR UPDATE SKIP
-- LOCKED (a concurrent `next` takes the following one) and the claim is
-- contact_claims' unique key (a concurrent `next` of another campaign gets no row).
-- A contact found called, or held by another campaign, rests until p_days after
-- that (campaign_contacts.rest_until): out of the next index, back when it is over.
CREATE FUNCTION campaign_next_v1(p_campaign bigint, p_extension text, p_now timestamptz)
RETURNS TABLE (status text, contact_id bigint)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    p_days integer;
    callers text[];
    fresh bigint;
    fresh_score smallint;
    rested bigint;
    candidate bigint;
    busy_since timestamptz;
    claimed bigint;
BEGIN
    SELECT c.claim_days, c.extensions INTO p_days, callers FROM campaigns c WHERE c.id = p_campaign;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'no_campaign'::text, NULL::bigint;
        RETURN;
    END IF;
    IF NOT (p_extension = ANY (callers)) THEN
        RETURN QUERY SELECT 'not_caller'::text, NULL::bigint;
        RETURN;
    END IF;
    FOR attempt IN 1..100 LOOP
        -- The best fresh contact, then a rested one if it is better (the rested are few).
        SELECT cc.contact_id, cc.score INTO fresh, fresh_score FROM campaign_contacts cc
        WHERE cc.campaign_id = p_campaign AND cc.claimed_at IS NULL AND cc.has_phone AND cc.rest_until IS NULL
        ORDER BY cc.score DESC, cc.contact_id LIMIT 1 FOR UPDATE SKIP LOCKED;
        SELECT cc.contact_id INTO rested FROM campaign_contacts cc
        WHERE cc.campaign_id = p_campaign AND cc.claimed_at IS NULL AND cc.has_phone AND cc.rest_until <= p_now
          AND (fresh IS NULL OR cc.score > fresh_score OR (cc.score = fresh_score AND cc.contact_id < fresh))
        ORDER BY cc.score DESC, cc.contact_id LIMIT 1 FOR UPDATE SKIP LOCKED;
        candidate := COALESCE(rested, fresh);
        IF candidate IS NULL THEN
            RETURN QUERY SELECT 'none'::text, NULL::bigint;
            RETURN;
        END IF;
        SELECT max(m.started_at) INTO busy_since FROM communications m
        WHERE m.contact_id = candidate AND m.direction = 'outbound'
          AND m.started_at > p_now - make_interval(days => p_days);
        IF busy_since IS NULL THEN
            INSERT INTO contact_claims AS k (contact_id, campaign_id, extension, claimed_at)
            VALUES (candidate, p_campaign, p_extension, p_now)
            ON CONFLICT (contact_id) DO UPDATE SET campaign_id = EXCLUDED.campaign_id,
                extension = EXCLUDED.extension, claimed_at = EXCLUDED.claimed_at
            WHERE k.claimed_at <= p_now - make_interval(days => p_days)
            RETURNING k.contact_id INTO claimed;
            IF claimed IS NOT NULL THEN
                UPDATE campaign_contacts cc SET claimed_by = p_extension, claimed_at = p_now, rest_until = NULL
                WHERE cc.campaign_id = p_campaign AND cc.contact_id = candidate;
                RETURN QUERY SELECT 'claimed'::text, candidate;
                RETURN;
            END IF;
            SELECT k.claimed_at INTO busy_since FROM contact_claims k WHERE k.contact_id = candidate;
        END IF;
        UPDATE campaign_contacts cc SET rest_until = COALESCE(busy_since, p_now) + make_interval(days => p_days)
        WHERE cc.campaign_id = p_campaign AND cc.contact_id = candidate;
    END LOOP;
    RETURN QUERY SELECT 'none'::text, NULL::bigint;
END
$$;

-- Reminders to the responsible manager: one per (kind, key), so a refresh run twice adds nothing.
CREATE TABLE tasks (
    id           bigserial PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('birthday', 'after_trip', 'next_season')),
    dedup_key    text NOT NULL,
    contact_id   bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    trip_id      bigint REFERENCES trips (id) ON DELETE CASCADE,
    extension    text,
    title        text NOT NULL,
    due_at       timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    done_at      timestamptz,
    done_by      text,
    UNIQUE (kind, dedup_key)
);
CREATE INDEX tasks_open_idx ON tasks (extension, due_at) WHERE done_at IS NULL;
CREATE INDEX tasks_contact_idx ON tasks (contact_id);
CREATE INDEX tasks_trip_idx ON tasks (trip_id) WHERE trip_id IS NOT NULL;

-- Nightly jobs run once a day however many daemons run: the first to insert the day's row runs it.
CREATE TABLE nightly_runs (
    job          text NOT NULL,
    day          date NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    PRIMARY KEY (job, day)
);
