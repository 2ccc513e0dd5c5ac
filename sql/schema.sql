-- callbridge: the whole schema as the migrations in sql/migrations/ leave it.
-- tests/integration/test_migrations.py proves the two agree; change both together.

CREATE TABLE managers (
    id            bigserial PRIMARY KEY,
    extension     text NOT NULL UNIQUE,
    name          text,
    email         text,
    pbx_user_id   bigint,
    is_admin      boolean NOT NULL DEFAULT false,
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE contacts (
    id                    bigserial PRIMARY KEY,
    name                  text,
    responsible_id        bigint REFERENCES managers (id),
    ad_source             text,
    tags                  text[] NOT NULL DEFAULT '{}',
    -- The call that created this contact (unknown caller), so that facts learnt
    -- later about that same call (its line, hence ad source) can still fill it in.
    created_by_entry_id   text,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    -- A merged contact is kept and points at its survivor; a purged one is hidden.
    merged_into           bigint REFERENCES contacts (id),
    removed_at            timestamptz
);
CREATE INDEX contacts_responsible_idx ON contacts (responsible_id);
CREATE INDEX contacts_merged_into_idx ON contacts (merged_into) WHERE merged_into IS NOT NULL;

-- Identifiers: a contact holds any number of phones, e-mails and
-- messenger accounts, and each belongs to at most one contact. Everything that
-- finds a person goes through this one table.
CREATE TABLE contact_identifiers (
    kind                 text NOT NULL CHECK (kind IN ('phone', 'email', 'telegram', 'vk')),
    value                text NOT NULL,
    contact_id           bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    -- «Не звонить» is kept on the identifier, so it survives merges and re-imports.
    do_not_call_reason   text,
    do_not_call_since    timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    -- The primary key is the lookup index: one probe finds the person.
    PRIMARY KEY (kind, value),
    CONSTRAINT contact_identifiers_value_shape CHECK (CASE kind
        WHEN 'phone' THEN value ~ '^\+[1-9][0-9]{6,14}$'
        WHEN 'email' THEN value = lower(value) AND value ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'
        ELSE value ~ '^[1-9][0-9]{0,19}$'
    END)
);
CREATE INDEX contact_identifiers_contact_idx ON contact_identifiers (contact_id);

-- What a spreadsheet or a form put in a phone or e-mail field but is not one
-- (`12-34`, `ivanov@`): kept on the contact and reported, never used to find anyone.
CREATE TABLE contact_invalid_identifiers (
    id           bigserial PRIMARY KEY,
    contact_id   bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('phone', 'email', 'telegram', 'vk')),
    value        text NOT NULL,
    reason       text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (contact_id, kind, value)
);

-- Evidence that two active contacts are one person, found by the pipeline (an
-- inquiry that carries a phone of one and an e-mail of the other) and proposed
-- as an `identifier` duplicate; nothing is merged automatically. One row per
-- pair, the lower id first; a pair marked "not a duplicate" is never proposed again.
CREATE TABLE contact_duplicate_hints (
    contact_low    bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    contact_high   bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    reason         text NOT NULL DEFAULT 'identifier',
    evidence       jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (contact_low, contact_high),
    CHECK (contact_low < contact_high)
);
CREATE INDEX contact_duplicate_hints_high_idx ON contact_duplicate_hints (contact_high);

CREATE TABLE contact_not_duplicates (
    contact_low    bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    contact_high   bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    marked_by      text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (contact_low, contact_high),
    CHECK (contact_low < contact_high)
);
CREATE INDEX contact_not_duplicates_high_idx ON contact_not_duplicates (contact_high);

-- Dialled line -> ad source («Реклама»). line_key is the E.164 form when the
-- line is a phone number, else the PBX's text verbatim (SIP lines).
CREATE TABLE lines (
    line_key      text PRIMARY KEY,
    line_number   text NOT NULL,
    ad_source     text NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE leads (
    id            bigserial PRIMARY KEY,
    contact_id    bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    -- open -> won | lost (with a reason) | archived (stale), or merged (the
    -- younger of two open leads of contacts merged into one).
    status        text NOT NULL DEFAULT 'open'
                  CONSTRAINT leads_status_check CHECK (status IN ('open', 'won', 'lost', 'archived', 'merged')),
    ad_source     text,
    line_number   text,
    opened_by_entry_id text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    closed_at     timestamptz,
    reason            text,
    previous_lead_id  bigint REFERENCES leads (id),
    last_activity_at  timestamptz
);
CREATE INDEX leads_previous_idx ON leads (previous_lead_id) WHERE previous_lead_id IS NOT NULL;
-- At most one open lead per contact: concurrent first calls cannot open two.
CREATE UNIQUE INDEX leads_one_open_per_contact ON leads (contact_id) WHERE status = 'open';
CREATE INDEX leads_contact_idx ON leads (contact_id);

-- One row per PBX call (entry_id). Every column but note is derived from the
-- call's events in the inbox, so any delivery order gives the same row.
CREATE TABLE communications (
    id                 bigserial PRIMARY KEY,
    entry_id           text NOT NULL UNIQUE,
    channel            text NOT NULL DEFAULT 'call',
    direction          text CHECK (direction IN ('inbound', 'outbound', 'internal')),
    status             text NOT NULL CONSTRAINT communications_status_check
                       CHECK (status IN ('ringing', 'answered', 'missed', 'received')),
    phone              text,
    phone_raw          text,
    contact_id         bigint REFERENCES contacts (id) ON DELETE SET NULL,
    lead_id            bigint REFERENCES leads (id) ON DELETE SET NULL,
    manager_id         bigint REFERENCES managers (id),
    manager_extension  text,
    participants       text[] NOT NULL DEFAULT '{}',
    line_number        text,
    ad_source          text,
    started_at         timestamptz,
    answered_at        timestamptz,
    ended_at           timestamptz,
    talk_seconds       integer NOT NULL DEFAULT 0,
    recording_ids      text[] NOT NULL DEFAULT '{}',
    disconnect_reason  integer,
    finished           boolean NOT NULL DEFAULT false,
    reconciled         boolean NOT NULL DEFAULT false,
    note               text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
-- History is read newest first, ties by id, LIMIT n: these indexes are in that
-- order, so a scan stops after n rows (migration 0004).
CREATE INDEX communications_contact_idx ON communications (contact_id, started_at DESC NULLS LAST, id DESC);
CREATE INDEX communications_phone_idx ON communications (phone, started_at DESC NULLS LAST, id DESC);
CREATE INDEX communications_started_idx ON communications (started_at);
-- Foreign keys looked up or deleted by (migration 0004).
CREATE INDEX communications_lead_idx ON communications (lead_id) WHERE lead_id IS NOT NULL;
CREATE INDEX communications_manager_idx ON communications (manager_id) WHERE manager_id IS NOT NULL;

-- Every accepted PBX event, verbatim, under its dedup key: a repeat delivery
-- hits the unique key and is acknowledged without effect.
CREATE TABLE inbox (
    id            bigserial PRIMARY KEY,
    dedup_key     text NOT NULL UNIQUE,
    source        text NOT NULL,
    path          text NOT NULL,
    raw           text NOT NULL,
    kind          text NOT NULL,
    entry_id      text,
    call_id       text,
    event         jsonb NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inbox_entry_idx ON inbox (entry_id) WHERE entry_id IS NOT NULL;
CREATE INDEX inbox_call_idx ON inbox (call_id) WHERE call_id IS NOT NULL;
-- Retention prunes the oldest raw events first (migration 0004).
CREATE INDEX inbox_received_idx ON inbox (received_at);
-- Retention asks "is this call over?" per candidate; only calls not over are here.
CREATE INDEX communications_unfinished_idx ON communications (entry_id) WHERE NOT finished;

-- Routing decisions: what callbridge decided for each call leg that
-- appeared in the IVR, and the decision's mark on the call's communication.

-- One row per IVR leg: inserting it is the claim, so that of two daemons that
-- both see a leg, only the one whose INSERT lands decides and sends the route
-- command. reason is NULL from the claim until the decision is stored.
CREATE TABLE route_decisions (
    call_id       text PRIMARY KEY,
    entry_id      text NOT NULL,
    command_id    text UNIQUE,
    target        text,
    reason        text CHECK (reason IN (
                      'responsible', 'administrator', 'line_rule', 'after_hours',
                      'unknown_caller', 'no_responsible', 'manager_inactive',
                      'pbx_error', 'too_late')),
    pbx_outcome   text,
    pbx_result    integer,
    decided_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz
);
CREATE INDEX route_decisions_entry_idx ON route_decisions (entry_id);

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

ALTER TABLE communications
    ADD COLUMN routed_to         text,
    ADD COLUMN route_reason      text,
    ADD COLUMN route_command_id  text,
    ADD COLUMN route_result      integer;

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

-- Only on a change a screen can see (migration 0009): a new communication, an
-- update of a column its caller card shows (or joins by), or a leg event of the
-- call stored in the inbox (a leg may stop ringing without changing the row).
CREATE TRIGGER communications_notify_call
    AFTER INSERT ON communications
    FOR EACH ROW EXECUTE FUNCTION callbridge_notify_call();

-- Retention (migration 0004): the calls whose raw events were pruned
-- from the inbox. Their communication is then final: a late or re-delivered
-- event of the call is kept in the inbox but does not re-derive it from the few
-- events left. (Not a column of communications: marking must not fire the
-- screen's NOTIFY trigger.)
CREATE TABLE pruned_calls (
    entry_id    text PRIMARY KEY,
    pruned_at   timestamptz NOT NULL DEFAULT now()
);

-- Every inquiry, every channel: a communication is a
-- call, or an inquiry from another channel (entry_id 'inq:<source>:<external id
-- of its first message>'): one form, or one conversation of a chat while it lasts.
ALTER TABLE communications
    ADD COLUMN source            text,
    ADD COLUMN external_id       text,
    ADD COLUMN conversation_key  text,
    ADD COLUMN text              text,
    ADD COLUMN utm               jsonb,
    ADD COLUMN page_url          text,
    ADD COLUMN email             text,
    ADD COLUMN message_count     integer NOT NULL DEFAULT 0,
    ADD COLUMN last_message_at   timestamptz,
    -- When someone of the agency first wrote back in the conversation.
    ADD COLUMN replied_at        timestamptz;
-- The open conversation of a chat: one probe per message.
CREATE INDEX communications_conversation_idx ON communications (source, conversation_key, last_message_at)
    WHERE conversation_key IS NOT NULL;

-- «Реклама — Рекомендация»: who brought whom, and by which inquiry.
CREATE TABLE contact_referrals (
    contact_id        bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    referrer_id       bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    communication_id  bigint REFERENCES communications (id) ON DELETE SET NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (contact_id, referrer_id),
    CHECK (contact_id <> referrer_id)
);
CREATE INDEX contact_referrals_referrer_idx ON contact_referrals (referrer_id);

-- Events PostgreSQL refused on replay from the spool, or spool records that
-- could not be read. Each was acknowledged to the
-- PBX, which will not send it again, so it is kept here for a person, with the
-- reason, and /health warns while any is unresolved. `envelope` is the spool
-- record exactly as written (bytea: it may be neither valid UTF-8 nor JSON).
-- Set resolved_at once it is dealt with.
CREATE TABLE event_quarantine (
    id              bigserial PRIMARY KEY,
    digest          bytea NOT NULL UNIQUE,   -- sha256 of the envelope: replayed twice, kept once
    reason          text NOT NULL,
    dedup_key       text,
    envelope        bytea NOT NULL,
    quarantined_at  timestamptz NOT NULL DEFAULT now(),
    resolved_at     timestamptz
);
CREATE INDEX event_quarantine_open_idx ON event_quarantine (quarantined_at) WHERE resolved_at IS NULL;

-- Contacts: merge with an audit trail and undo, duplicates, hygiene.

-- The journal of merges. One row per merge (who, when, why), and one row per
-- row it touched in contact_merge_rows: the values it replaced (before) and the
-- values it wrote (after), so that an undo can restore the first and refuse
-- when a row no longer holds the second.
CREATE TABLE contact_merges (
    id            bigserial PRIMARY KEY,
    survivor_id   bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    merged_ids    bigint[] NOT NULL,
    actor         text NOT NULL,
    reason        text NOT NULL DEFAULT '',
    moved         jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    undone_at     timestamptz,
    undone_by     text,
    undo_forced   boolean NOT NULL DEFAULT false
);
CREATE INDEX contact_merges_survivor_idx ON contact_merges (survivor_id);
CREATE INDEX contact_merges_created_idx ON contact_merges (created_at);

CREATE TABLE contact_merge_rows (
    merge_id     bigint NOT NULL REFERENCES contact_merges (id) ON DELETE CASCADE,
    table_name   text NOT NULL,
    row_key      jsonb NOT NULL,
    -- update: before/after hold the columns the merge wrote; delete: before is
    -- the whole row; insert: after is the whole row.
    action       text NOT NULL CHECK (action IN ('update', 'delete', 'insert')),
    before       jsonb,
    after        jsonb,
    PRIMARY KEY (merge_id, table_name, row_key)
);

-- The name as duplicates are found by: lower case, ё = е, punctuation dropped,
-- words sorted (word order ignored). IMMUTABLE so that it can be a stored
-- generated column: every writer of contacts (pipeline, importer, screen) keeps it.
CREATE FUNCTION contact_name_key(name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT NULLIF(array_to_string(ARRAY(
        SELECT w FROM regexp_split_to_table(translate(lower(name), 'ё', 'е'), '[^[:alnum:]]+') AS w
        WHERE w <> '' ORDER BY w COLLATE "C"), ' '), '')
$$;

ALTER TABLE contacts ADD COLUMN name_key text GENERATED ALWAYS AS (contact_name_key(name)) STORED;
CREATE INDEX contacts_name_key_idx ON contacts (name_key) WHERE merged_into IS NULL AND removed_at IS NULL;

-- pg_trgm for similar names. The embedded PostgreSQL (pgserver) ships without
-- it, so it is optional: without it, name duplicates are exact name_key matches only.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
        CREATE INDEX contacts_name_key_trgm_idx ON contacts USING gin (name_key gin_trgm_ops)
            WHERE merged_into IS NULL AND removed_at IS NULL;
    END IF;
END;
$$;

-- Lookups by id follow merged_into to the survivor (a merge chain ends at an
-- active contact; the depth bound guards against a cycle written by hand).
CREATE FUNCTION contact_survivor(contact bigint) RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH RECURSIVE chain (id, merged_into, depth) AS (
        SELECT id, merged_into, 0 FROM contacts WHERE id = contact
        UNION ALL
        SELECT c.id, c.merged_into, chain.depth + 1
        FROM chain JOIN contacts c ON c.id = chain.merged_into
        WHERE chain.depth < 100
    )
    SELECT id FROM chain ORDER BY depth DESC LIMIT 1
$$;

-- Trips arrive with the lead-lifecycle work (a trips table with contact_id).
-- These functions name that table in PL/pgSQL, which plans a statement only
-- when it runs, so every named query still prepares before the table exists.
CREATE FUNCTION contact_has_trips(p_contact bigint) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF to_regclass('trips') IS NULL THEN
        RETURN false;
    END IF;
    RETURN EXISTS (SELECT 1 FROM trips t WHERE t.contact_id = p_contact);
END;
$$;

CREATE FUNCTION contact_merge_trips(p_merge bigint, p_survivor bigint, p_merged bigint[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO contact_merge_rows (merge_id, table_name, row_key, action, before, after)
    SELECT p_merge, 'trips', jsonb_build_object('id', t.id), 'update',
           jsonb_build_object('contact_id', t.contact_id), jsonb_build_object('contact_id', p_survivor)
    FROM trips t WHERE t.contact_id = ANY(p_merged);
    UPDATE trips t SET contact_id = p_survivor WHERE t.contact_id = ANY(p_merged);
END;
$$;

CREATE FUNCTION contact_merge_trip_conflicts(p_merge bigint) RETURNS SETOF jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN QUERY
    SELECT j.row_key FROM contact_merge_rows j
    LEFT JOIN trips t ON t.id = (j.row_key->>'id')::bigint
    WHERE j.merge_id = p_merge AND j.table_name = 'trips'
      AND (t.id IS NULL OR t.contact_id IS DISTINCT FROM (j.after->>'contact_id')::bigint);
END;
$$;

CREATE FUNCTION contact_restore_trips(p_merge bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE trips t SET contact_id = (j.before->>'contact_id')::bigint
    FROM contact_merge_rows j
    WHERE j.merge_id = p_merge AND j.table_name = 'trips' AND t.id = (j.row_key->>'id')::bigint;
END;
$$;

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

-- Leads, trips and computed tags (migration 0008).

-- A lead opens at its first communication's own time (the PBX's or the sender's
-- timestamp), not when the row was written: a late or reconciled call counts on its day.
ALTER TABLE leads ADD COLUMN opened_at timestamptz NOT NULL DEFAULT now();
-- `leads archive` finds the stale open leads by this.
CREATE INDEX leads_open_activity_idx ON leads (last_activity_at) WHERE status = 'open';

-- Bookings from the booking system, keyed by its order number: a re-import updates.
CREATE TABLE trips (
    id                 bigserial PRIMARY KEY,
    order_number       text NOT NULL UNIQUE,
    contact_id         bigint REFERENCES contacts (id) ON DELETE SET NULL,
    -- The lead the booking won (open when the booking was made), if any.
    lead_id            bigint REFERENCES leads (id) ON DELETE SET NULL,
    status             text NOT NULL CHECK (status IN ('paid', 'cancelled', 'pending')),
    status_raw         text,
    amount             numeric(14, 2),
    starts_on          date,
    ends_on            date,
    manager_extension  text,
    booked_at          timestamptz NOT NULL,
    imported_at        timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX trips_contact_idx ON trips (contact_id, starts_on);
CREATE INDEX trips_lead_idx ON trips (lead_id) WHERE lead_id IS NOT NULL;

-- Computed tags live in contacts.tags (so every lookup, card and report shows
-- them); this table remembers which of them `tags refresh` put there, so that
-- it removes only its own, and so that one missing from contacts.tags is known
-- to have been removed by hand.
CREATE TABLE contact_computed_tags (
    contact_id   bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    tag          text NOT NULL,
    applied_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (contact_id, tag)
);
-- A computed tag a manager removed by hand: never put back by `tags refresh`.
CREATE TABLE contact_tag_removals (
    contact_id   bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    tag          text NOT NULL,
    removed_by   text,
    removed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (contact_id, tag)
);


-- What an agency's contacts export says beyond phones and e-mails (migration 0014).
-- A birthday and a note («Дата рождения», «Комментарий») are kept on the contact.
-- «Ответственный» written as a person's name that no manager has becomes a manager
-- known by name only (no extension yet, so nothing is routed to it); sync-managers
-- later finds the PBX employee of that name and fills in the extension on the same
-- row. The name is compared as contacts' names are (contact_name_key); one
-- name-only manager per name.
ALTER TABLE contacts ADD COLUMN birthday date, ADD COLUMN note text;
ALTER TABLE managers ALTER COLUMN extension DROP NOT NULL;
ALTER TABLE managers ADD COLUMN name_key text GENERATED ALWAYS AS (contact_name_key(name)) STORED;
ALTER TABLE managers ADD CONSTRAINT managers_extension_or_name_check
    CHECK (extension IS NOT NULL OR name_key IS NOT NULL);
CREATE UNIQUE INDEX managers_name_only_idx ON managers (name_key) WHERE extension IS NULL;
CREATE INDEX managers_name_key_idx ON managers (name_key);
-- 0016: invalid identifiers of any length (the unique index holds the text's md5).
ALTER TABLE contact_invalid_identifiers DROP CONSTRAINT contact_invalid_identifiers_contact_id_kind_value_key;
CREATE UNIQUE INDEX contact_invalid_identifiers_once_idx
    ON contact_invalid_identifiers (contact_id, kind, md5(value));
-- Duplicate candidates (migration 0015) kept in a table, up to date as contacts change, so that
-- the list is read, not recomputed (daemon/contacts/duplicates.py).
--
-- A candidate is a pair of active contacts (lower id first), never marked "not
-- a duplicate", with one of two reasons:
-- * identifier (1.0): the pipeline or an import saw one inquiry or row carry
--   identifiers of both (contact_duplicate_hints);
-- * name (0.75): the same name key (case, ё/е and word order ignored) and a
--   similar phone: the same length, at most two digits different, all among the
--   last five or all among the five before them. The name alone is no evidence
--   (a common «Иванова Елена» is many people), a shared manager none at all.
--
-- Statement-level triggers with transition tables on every table the evidence
-- comes from hand the contacts a statement touched to contact_candidates_touch,
-- which recomputes their pairs in the same transaction (set-based, one call per
-- statement). A bulk writer (the contact import) sets callbridge.candidates_deferred
-- for its transactions: the touched contacts are only queued, and
-- contact_candidates_flush recomputes them all at its end with hash joins.
-- Two writes committed at the same moment each see the other's contacts as they
-- were: a pair they make together waits for the next write to either of them
-- (or `callbridge contacts duplicates --rebuild`).

CREATE TABLE contact_duplicate_candidates (
    contact_low    bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    contact_high   bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    reason         text NOT NULL CHECK (reason IN ('identifier', 'name')),
    score          double precision NOT NULL,
    evidence       jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (contact_low, contact_high),
    CHECK (contact_low < contact_high)
);
CREATE INDEX contact_duplicate_candidates_high_idx ON contact_duplicate_candidates (contact_high);
-- The list's two orders: all reasons, and one reason (?reason=).
CREATE INDEX contact_duplicate_candidates_list_idx
    ON contact_duplicate_candidates (score DESC, contact_low, contact_high);
CREATE INDEX contact_duplicate_candidates_reason_idx
    ON contact_duplicate_candidates (reason, score DESC, contact_low, contact_high);

-- Contacts whose candidates a bulk writer left to contact_candidates_flush.
CREATE TABLE contact_candidates_dirty (
    contact_id   bigint PRIMARY KEY
);

-- A phone's two "similar" keys, as expressions the probe below looks up by:
-- all but the last five digits, and the country prefix with the last five. At a
-- million contacts a head is shared by about 800 phones: the value and the
-- contact are in the index, so that comparing them reads no table page.
CREATE INDEX contact_identifiers_phone_head_idx
    ON contact_identifiers ((left(value, length(value) - 5)), value) INCLUDE (contact_id)
    WHERE kind = 'phone';
CREATE INDEX contact_identifiers_phone_tail_idx
    ON contact_identifiers ((left(value, length(value) - 10) || right(value, 5)), value) INCLUDE (contact_id)
    WHERE kind = 'phone';

-- How many of the last ten digits of two phones differ (99 when their lengths or
-- anything before those ten differ). One expression, so that PostgreSQL inlines
-- it: a loop over the digits, called for every key match of a whole base, took
-- ten times as long as the rest of the recompute.
CREATE FUNCTION contact_phone_digits_apart(a text, b text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN length(a) <> length(b) OR left(a, -10) <> left(b, -10) THEN 99 ELSE
          (substr(right(a, 10), 1, 1) <> substr(right(b, 10), 1, 1))::integer
        + (substr(right(a, 10), 2, 1) <> substr(right(b, 10), 2, 1))::integer
        + (substr(right(a, 10), 3, 1) <> substr(right(b, 10), 3, 1))::integer
        + (substr(right(a, 10), 4, 1) <> substr(right(b, 10), 4, 1))::integer
        + (substr(right(a, 10), 5, 1) <> substr(right(b, 10), 5, 1))::integer
        + (substr(right(a, 10), 6, 1) <> substr(right(b, 10), 6, 1))::integer
        + (substr(right(a, 10), 7, 1) <> substr(right(b, 10), 7, 1))::integer
        + (substr(right(a, 10), 8, 1) <> substr(right(b, 10), 8, 1))::integer
        + (substr(right(a, 10), 9, 1) <> substr(right(b, 10), 9, 1))::integer
        + (substr(right(a, 10), 10, 1) <> substr(right(b, 10), 10, 1))::integer
    END
$$;

-- The candidates of a few contacts ($1), found by index probes: hints naming
-- them, and phones with the same head or tail (the expression indexes above)
-- held by an active contact of the same name key.
CREATE FUNCTION contact_candidate_pairs(p_ids bigint[])
RETURNS TABLE (low bigint, high bigint, reason text, score double precision, evidence jsonb)
LANGUAGE sql STABLE AS $$
    WITH dirty AS (
        SELECT c.id, c.name_key FROM contacts c
        WHERE c.id = ANY (p_ids) AND c.merged_into IS NULL AND c.removed_at IS NULL
    ), hinted AS (
        SELECT h.contact_low, h.contact_high, h.evidence
        FROM contact_duplicate_hints h
        JOIN contacts a ON a.id = h.contact_low AND a.merged_into IS NULL AND a.removed_at IS NULL
        JOIN contacts b ON b.id = h.contact_high AND b.merged_into IS NULL AND b.removed_at IS NULL
        WHERE h.contact_low = ANY (p_ids) OR h.contact_high = ANY (p_ids)
    ), near AS (
        SELECT d.id AS a, d.name_key, p.value AS va, o.contact_id AS b, o.value AS vb
        FROM dirty d
        JOIN contact_identifiers p ON p.contact_id = d.id AND p.kind = 'phone'
        JOIN contact_identifiers o ON o.kind = 'phone'
                                  AND left(o.value, length(o.value) - 5) = left(p.value, length(p.value) - 5)
        WHERE d.name_key IS NOT NULL
        UNION ALL
        SELECT d.id, d.name_key, p.value, o.contact_id, o.value
        FROM dirty d
        JOIN contact_identifiers p ON p.contact_id = d.id AND p.kind = 'phone'
        JOIN contact_identifiers o ON o.kind = 'phone'
                                  AND left(o.value, length(o.value) - 10) || right(o.value, 5)
                                      = left(p.value, length(p.value) - 10) || right(p.value, 5)
        WHERE d.name_key IS NOT NULL
    ), named AS (
        SELECT DISTINCT least(n.a, n.b) AS low, greatest(n.a, n.b) AS high
        FROM near n
        JOIN contacts c ON c.id = n.b AND c.name_key = n.name_key AND c.merged_into IS NULL AND c.removed_at IS NULL
        WHERE n.a <> n.b AND length(n.va) = length(n.vb) AND contact_phone_digits_apart(n.va, n.vb) <= 2
    ), found AS (
        SELECT contact_low AS low, contact_high AS high, 'identifier' AS reason, 1.0::float8 AS score, evidence
        FROM hinted
        UNION ALL
        SELECT n.low, n.high, 'name', 0.75::float8, '{"same_name": true, "similar_phone": true}'::jsonb
        FROM named n
        WHERE NOT EXISTS (SELECT 1 FROM hinted h WHERE h.contact_low = n.low AND h.contact_high = n.high)
    )
    SELECT f.* FROM found f
    WHERE NOT EXISTS (SELECT 1 FROM contact_not_duplicates x WHERE x.contact_low = f.low AND x.contact_high = f.high)
$$;

-- Recompute the candidates of the contacts $1: pairs naming them that are no
-- longer found go, found ones are written (only when they differ: an unchanged
-- pair is not locked). PL/pgSQL, not SQL, and a generic plan from the first
-- call, so that the statement's plan is made once per connection: planning it
-- (10 ms) took longer than running it (under 1 ms).
CREATE FUNCTION contact_candidates_refresh(p_ids bigint[]) RETURNS void
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    WITH found AS MATERIALIZED (
        SELECT * FROM contact_candidate_pairs(p_ids)
    ), put AS (
        INSERT INTO contact_duplicate_candidates AS c (contact_low, contact_high, reason, score, evidence)
        SELECT low, high, reason, score, evidence FROM found ORDER BY low, high  -- one lock order
        ON CONFLICT (contact_low, contact_high) DO UPDATE
        SET reason = EXCLUDED.reason, score = EXCLUDED.score, evidence = EXCLUDED.evidence
        WHERE (c.reason, c.score, c.evidence) IS DISTINCT FROM (EXCLUDED.reason, EXCLUDED.score, EXCLUDED.evidence)
    )
    DELETE FROM contact_duplicate_candidates c
    WHERE (c.contact_low = ANY (p_ids) OR c.contact_high = ANY (p_ids))
      AND NOT EXISTS (SELECT 1 FROM found f WHERE f.low = c.contact_low AND f.high = c.contact_high);
END;
$$;

-- Every trigger below calls this with the contacts its statement touched.
CREATE FUNCTION contact_candidates_touch(p_ids bigint[]) RETURNS void
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

-- The queued contacts' candidates, all at once: every active named contact's
-- phone keys hashed (no per-contact probe), joined with the queued ones'.
-- The queue is locked so that a bulk writer still running waits for the end
-- of this transaction instead of queueing what it would not see.
CREATE FUNCTION contact_candidates_flush() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    queued bigint;
BEGIN
    LOCK TABLE contact_candidates_dirty IN EXCLUSIVE MODE;
    SELECT count(*) INTO queued FROM contact_candidates_dirty;
    IF queued = 0 THEN
        RETURN 0;
    END IF;
    -- After a bulk write the statistics are stale or absent: without them the
    -- planner compared every key with every other (minutes for 150,000 new contacts).
    ANALYZE contact_candidates_dirty;
    ANALYZE contacts;
    ANALYZE contact_identifiers;
    -- Each side of the key join is a few million rows at 1,000,000 contacts:
    -- sorted or hashed in memory, not on disk (this transaction only).
    PERFORM set_config('work_mem', '64MB', true);
    -- Materialized: inlined, the planner joined on the name alone and compared
    -- the phones of every pair of a name's holders (20 s instead of 2 at 100,000).
    WITH keys AS MATERIALIZED (
        SELECT c.id, c.name_key, i.value, hashtextextended(c.name_key || '|' || CASE h.n
                   WHEN 1 THEN left(i.value, length(i.value) - 5)
                   ELSE '*' || left(i.value, length(i.value) - 10) || right(i.value, 5) END, 0) AS key
        FROM contacts c
        JOIN contact_identifiers i ON i.contact_id = c.id AND i.kind = 'phone'
        CROSS JOIN (VALUES (1), (2)) AS h (n)
        WHERE c.merged_into IS NULL AND c.removed_at IS NULL AND c.name_key IS NOT NULL
    ), named AS (
        SELECT DISTINCT least(a.id, b.id) AS low, greatest(a.id, b.id) AS high
        FROM keys a
        JOIN keys b ON b.key = a.key AND b.name_key = a.name_key AND b.id <> a.id
        WHERE a.id IN (SELECT contact_id FROM contact_candidates_dirty)
          AND length(a.value) = length(b.value) AND contact_phone_digits_apart(a.value, b.value) <= 2
    ), hinted AS (
        SELECT h.contact_low, h.contact_high, h.evidence
        FROM contact_duplicate_hints h
        JOIN contacts a ON a.id = h.contact_low AND a.merged_into IS NULL AND a.removed_at IS NULL
        JOIN contacts b ON b.id = h.contact_high AND b.merged_into IS NULL AND b.removed_at IS NULL
        WHERE h.contact_low IN (SELECT contact_id FROM contact_candidates_dirty)
           OR h.contact_high IN (SELECT contact_id FROM contact_candidates_dirty)
    ), found AS MATERIALIZED (
        SELECT f.* FROM (
            SELECT contact_low AS low, contact_high AS high, 'identifier' AS reason, 1.0::float8 AS score, evidence
            FROM hinted
            UNION ALL
            SELECT n.low, n.high, 'name', 0.75::float8, '{"same_name": true, "similar_phone": true}'::jsonb
            FROM named n
            WHERE NOT EXISTS (SELECT 1 FROM hinted h WHERE h.contact_low = n.low AND h.contact_high = n.high)
        ) AS f
        WHERE NOT EXISTS (SELECT 1 FROM contact_not_duplicates x
                          WHERE x.contact_low = f.low AND x.contact_high = f.high)
    ), put AS (
        INSERT INTO contact_duplicate_candidates AS c (contact_low, contact_high, reason, score, evidence)
        SELECT low, high, reason, score, evidence FROM found ORDER BY low, high  -- one lock order
        ON CONFLICT (contact_low, contact_high) DO UPDATE
        SET reason = EXCLUDED.reason, score = EXCLUDED.score, evidence = EXCLUDED.evidence
        WHERE (c.reason, c.score, c.evidence) IS DISTINCT FROM (EXCLUDED.reason, EXCLUDED.score, EXCLUDED.evidence)
    )
    DELETE FROM contact_duplicate_candidates c
    WHERE (c.contact_low IN (SELECT contact_id FROM contact_candidates_dirty)
           OR c.contact_high IN (SELECT contact_id FROM contact_candidates_dirty))
      AND NOT EXISTS (SELECT 1 FROM found f WHERE f.low = c.contact_low AND f.high = c.contact_high);
    DELETE FROM contact_candidates_dirty;
    RETURN queued;
END;
$$;

-- The triggers: which contacts a statement touched, as far as candidates go.
CREATE FUNCTION contacts_candidates_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM contact_candidates_touch(ARRAY(SELECT id FROM new_rows WHERE name_key IS NOT NULL));
    ELSE
        PERFORM contact_candidates_touch(ARRAY(
            SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE (n.name_key, n.merged_into, n.removed_at) IS DISTINCT FROM (o.name_key, o.merged_into, o.removed_at)));
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION contact_identifiers_candidates_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM contact_candidates_touch(ARRAY(SELECT DISTINCT contact_id FROM new_rows WHERE kind = 'phone'));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM contact_candidates_touch(ARRAY(SELECT DISTINCT contact_id FROM old_rows WHERE kind = 'phone'));
    ELSE
        PERFORM contact_candidates_touch(ARRAY(
            SELECT n.contact_id FROM new_rows n JOIN old_rows o ON o.kind = n.kind AND o.value = n.value
            WHERE n.kind = 'phone' AND n.contact_id <> o.contact_id
            UNION
            SELECT o.contact_id FROM new_rows n JOIN old_rows o ON o.kind = n.kind AND o.value = n.value
            WHERE n.kind = 'phone' AND n.contact_id <> o.contact_id));
    END IF;
    RETURN NULL;
END;
$$;

-- For contact_duplicate_hints and contact_not_duplicates: both contacts of each pair.
CREATE FUNCTION contact_pairs_candidates_trigger() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM contact_candidates_touch(ARRAY(SELECT contact_low FROM new_rows
                                               UNION SELECT contact_high FROM new_rows));
    ELSE
        PERFORM contact_candidates_touch(ARRAY(SELECT contact_low FROM old_rows
                                               UNION SELECT contact_high FROM old_rows));
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER contacts_candidates_update AFTER UPDATE ON contacts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contacts_candidates_trigger();
CREATE TRIGGER contact_identifiers_candidates_insert AFTER INSERT ON contact_identifiers
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION contact_identifiers_candidates_trigger();
CREATE TRIGGER contact_identifiers_candidates_update AFTER UPDATE ON contact_identifiers
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION contact_identifiers_candidates_trigger();
CREATE TRIGGER contact_identifiers_candidates_delete AFTER DELETE ON contact_identifiers
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION contact_identifiers_candidates_trigger();
CREATE TRIGGER contact_duplicate_hints_candidates_insert AFTER INSERT ON contact_duplicate_hints
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION contact_pairs_candidates_trigger();
CREATE TRIGGER contact_duplicate_hints_candidates_delete AFTER DELETE ON contact_duplicate_hints
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION contact_pairs_candidates_trigger();
CREATE TRIGGER contact_not_duplicates_candidates_insert AFTER INSERT ON contact_not_duplicates
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION contact_pairs_candidates_trigger();
CREATE TRIGGER contact_not_duplicates_candidates_delete AFTER DELETE ON contact_not_duplicates
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION contact_pairs_candidates_trigger();


-- Versioned database functions, and one lock order (migration 0018).
--
-- The rule: a function's body never changes in place. A change is a new function
-- with the next version in its name (callbridge_store_calls_v2), created by a
-- migration beside the previous one, and the code calls only versioned names.
-- During a rolling restart the daemon of the previous release keeps calling the
-- names it knows, whose bodies it was tested with; the new daemon calls the new
-- ones. A later migration drops a version once no daemon that calls it can run.
--
-- Here: the functions of migration 0013 under versioned names. The lead and
-- call-state helpers are 0013's bodies as they were (v1, calling each other by
-- their v1 names); callbridge_ingest_v2 and callbridge_store_calls_v2 take their
-- locks in callbridge_lock_v1's order, and callbridge_store_calls_v2 takes every
-- identifier lock of the batch (its callers' phones and its inquiries'
-- identifiers) in that one call. 0013's unversioned functions stayed for a daemon
-- of the previous release until migration 0029 dropped them.


-- The one lock order: advisory transaction locks of p_keys, each once, sorted by
-- the key's bytes (COLLATE "C": the same order whatever the database's collation).
-- Every batch takes its keys in two such calls, the call and conversation keys
-- (entry:, conversation:) first, then the identifier keys (phone:, email:,
-- telegram:, vk:): one global order, so two batches never wait for each other in
-- a cycle. Returns how many keys were locked. PL/pgSQL: its statement is planned
-- once per connection, a SQL function's body at every call. The two batch
-- functions below carry this statement inline instead of calling it: a call per
-- batch measured 10-20% fewer events/s on bench/spool (PostgreSQL 15); change
-- the order here and there together (a new version of all three).
CREATE FUNCTION callbridge_lock_v1(p_keys text[])
RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    RETURN (SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0)))
            FROM (SELECT DISTINCT k COLLATE "C" AS k FROM unnest(p_keys) AS u (k) ORDER BY k) AS ordered);
END
$$;

-- The contact's open lead, locked until commit, and what became of it at p_at (the
-- new communication's time; NULL: now): joined (its activity moved up to p_at), or
-- archived because it had no activity for p_stale_days by then, closed at the moment
-- it went stale as `leads archive` closes it. No row's lead_id: the contact has none open.
CREATE FUNCTION callbridge_current_lead_v1(p_contact bigint, p_at timestamptz, p_stale_days integer,
                                        OUT lead_id bigint, OUT archived boolean)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT id, COALESCE(last_activity_at, opened_at) + make_interval(days => p_stale_days)
               < COALESCE(p_at, now())
    INTO lead_id, archived
    FROM leads WHERE contact_id = p_contact AND status = 'open'
    FOR UPDATE;
    IF lead_id IS NULL THEN
        RETURN;
    END IF;
    IF archived THEN
        UPDATE leads SET status = 'archived',
                         closed_at = COALESCE(last_activity_at, opened_at) + make_interval(days => p_stale_days)
        WHERE id = lead_id AND status = 'open';
    ELSE
        UPDATE leads SET last_activity_at = GREATEST(last_activity_at, COALESCE(p_at, now()))
        WHERE id = lead_id;
    END IF;
END
$$;

-- The contact's open lead, joined, or, when it has none or it went stale by p_at, a
-- new one naming the previous lead.
CREATE FUNCTION callbridge_open_lead_v1(p_contact bigint, p_ad_source text, p_line_number text,
                                     p_entry_id text, p_at timestamptz, p_stale_days integer)
RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    current_id bigint;
    current_archived boolean;
    previous_id bigint;
    opened bigint;
BEGIN
    SELECT l.lead_id, l.archived INTO current_id, current_archived
    FROM callbridge_current_lead_v1(p_contact, p_at, p_stale_days) AS l;
    IF current_id IS NOT NULL AND NOT current_archived THEN
        RETURN current_id;
    END IF;
    IF current_id IS NOT NULL THEN
        previous_id := current_id;
    ELSE
        SELECT id INTO previous_id FROM leads WHERE contact_id = p_contact ORDER BY id DESC LIMIT 1;
    END IF;
    -- leads_one_open_per_contact makes this race-free: a second opener gets no row.
    INSERT INTO leads (contact_id, ad_source, line_number, opened_by_entry_id, opened_at, last_activity_at,
                       previous_lead_id)
    VALUES (p_contact, p_ad_source, p_line_number, p_entry_id, COALESCE(p_at, now()), COALESCE(p_at, now()),
            previous_id)
    ON CONFLICT (contact_id) WHERE status = 'open' DO NOTHING
    RETURNING id INTO opened;
    IF opened IS NOT NULL THEN
        RETURN opened;
    END IF;
    -- A concurrent call of the same contact opened it first: join that one.
    SELECT id INTO opened FROM leads WHERE contact_id = p_contact AND status = 'open';
    UPDATE leads SET last_activity_at = GREATEST(last_activity_at, COALESCE(p_at, now()))
    WHERE id = opened;
    RETURN opened;
END
$$;

-- The contact's open lead if it is not stale at p_at (a stale one is archived);
-- opens none (an outbound call joins what exists).
CREATE FUNCTION callbridge_join_open_lead_v1(p_contact bigint, p_at timestamptz, p_stale_days integer)
RETURNS bigint
LANGUAGE sql AS $$
    SELECT CASE WHEN l.archived THEN NULL ELSE l.lead_id END
    FROM callbridge_current_lead_v1(p_contact, p_at, p_stale_days) AS l
$$;

-- The state of each call of p_entry_ids, in entry_id order, one row each (a call with
-- no events yet too): its events of p_kinds in stored order, its communication's
-- contact and lead, and whether retention pruned it (then it must not be re-derived).
-- The communication is locked (FOR UPDATE) so that a contact merge committed
-- meanwhile is seen here and not overwritten with the links read before it.
CREATE FUNCTION callbridge_call_states_v1(p_entry_ids text[], p_kinds text[])
RETURNS TABLE (entry_id text, events text[], contact_id bigint, lead_id bigint, pruned boolean)
LANGUAGE sql AS $$
    SELECT e.id,
           ARRAY(SELECT i.event::text FROM inbox i
                 WHERE i.entry_id = e.id AND i.kind = ANY (p_kinds)
                 ORDER BY i.id),
           c.contact_id, c.lead_id,
           EXISTS (SELECT 1 FROM pruned_calls p WHERE p.entry_id = e.id)
    FROM unnest(p_entry_ids) AS e (id)
    LEFT JOIN LATERAL (SELECT m.contact_id, m.lead_id FROM communications m
                       WHERE m.entry_id = e.id FOR UPDATE) AS c ON true
    ORDER BY e.id
$$;

-- Before the derivation: take the batch's call and conversation locks (p_locks,
-- in callbridge_lock_v1's order), put the events in the inbox (a repeat, even
-- of one earlier in the same batch, does not go in), and return
-- * one row per event that went in: its dedup_key (entry_id NULL);
-- * one row per call that got a new event of p_kinds (the call's kinds): its
--   state (callbridge_call_states_v1).
-- Every lock is taken before the first row goes in (the one-row aggregate must
-- finish before the join yields a row); the reads are a later statement, whose
-- snapshot includes whatever the locks' previous holders committed.
CREATE FUNCTION callbridge_ingest_v2(p_dedup_keys text[], p_sources text[], p_paths text[], p_raws text[],
                                  p_kinds_of text[], p_entry_ids text[], p_call_ids text[],
                                  p_events text[], p_locks text[], p_kinds text[])
RETURNS TABLE (dedup_key text, entry_id text, events text[], contact_id bigint, lead_id bigint,
               pruned boolean)
LANGUAGE plpgsql AS $$
DECLARE
    inserted text[];
    changed text[];
BEGIN
    WITH locked AS (  -- callbridge_lock_v1's statement, inline: no call on the hot path
        SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0))) AS n
        FROM (SELECT DISTINCT k COLLATE "C" AS k FROM unnest(p_locks) AS u (k) ORDER BY k) AS ordered
    ),
    ins AS (
        INSERT INTO inbox (dedup_key, source, path, raw, kind, entry_id, call_id, event)
        SELECT d, s, p, r, k, e, c, ev::jsonb
        FROM locked,
             unnest(p_dedup_keys, p_sources, p_paths, p_raws, p_kinds_of, p_entry_ids, p_call_ids, p_events)
             AS batch (d, s, p, r, k, e, c, ev)
        ON CONFLICT ON CONSTRAINT inbox_dedup_key_key DO NOTHING
        RETURNING inbox.dedup_key, inbox.entry_id, inbox.kind
    )
    SELECT array_agg(ins.dedup_key),
           array_agg(DISTINCT ins.entry_id) FILTER (WHERE ins.entry_id IS NOT NULL AND ins.kind = ANY (p_kinds))
    INTO inserted, changed
    FROM ins;

    RETURN QUERY SELECT u.k, NULL::text, NULL::text[], NULL::bigint, NULL::bigint, NULL::boolean
                 FROM unnest(inserted) AS u (k);
    IF changed IS NOT NULL THEN
        RETURN QUERY SELECT NULL::text, s.entry_id, s.events, s.contact_id, s.lead_id, s.pruned
                     FROM callbridge_call_states_v1(changed, p_kinds) AS s;
    END IF;
END
$$;

-- After the derivation: every derived call of p_calls (a JSON array of objects,
-- keys as below) linked and stored, in order. First the batch's identifier locks
-- (p_locks, in callbridge_lock_v1's order): the phones of the new callers and every identifier
-- of the batch's inquiries (phone:, email:, telegram:, vk:), all at once, after the
-- calls' locks; the inquiries are filed after this call, their locks held (may be
-- called with no calls, for a batch of inquiries only); then, per call:
-- * an unknown inbound caller becomes a contact carrying the line's ad source, and
--   a contact without an open lead gets one (an outbound call only joins what
--   exists; neither is made while the direction is a guess: direction_certain);
-- * managers first seen on the call are created by extension (the PBX sync fills
--   in names);
-- * the contact and the lead this very call created get the ad source and line
--   learnt since (no-ops unless one is missing);
-- * the communication row is upserted.
-- Returns the contacts made (entry_id, contact_id), for the log.
CREATE FUNCTION callbridge_store_calls_v2(p_calls jsonb, p_locks text[], p_stale_days integer)
RETURNS TABLE (entry_id text, created_contact_id bigint)
LANGUAGE plpgsql AS $$
DECLARE
    c record;
    v_contact bigint;
    v_lead bigint;
    v_fill_contact bigint;
    v_fill_lead bigint;
    v_inbound boolean;
    v_at timestamptz;
    v_manager bigint;
    v_managers_known boolean;
    v_filled bigint;
BEGIN
    IF cardinality(p_locks) > 0 THEN
        -- callbridge_lock_v1's statement, inline: no call on the hot path.
        PERFORM count(pg_advisory_xact_lock(hashtextextended(k, 0)))
        FROM (SELECT DISTINCT k COLLATE "C" AS k FROM unnest(p_locks) AS u (k) ORDER BY k) AS ordered;
    END IF;

    -- Each statement below costs a little of its own, whatever it does (about 0.1 ms
    -- on the 2-core benchmark machine): the usual call (it has its contact and lead,
    -- and its managers exist) takes three, its lookups folded into the others.
    FOR c IN
        SELECT x.*, (SELECT l.ad_source FROM lines l WHERE l.line_key = x.line_key) AS ad_source
        FROM jsonb_to_recordset(p_calls) AS x (
            entry_id text, direction text, direction_certain boolean, status text, phone text,
            phone_raw text, contact_id bigint, lead_id bigint, manager_extension text,
            participants text[], line_number text, line_key text, started_at bigint,
            answered_at bigint, ended_at bigint, talk_seconds integer, recording_ids text[],
            disconnect_reason integer, finished boolean, reconciled boolean)
    LOOP
        v_contact := c.contact_id;
        v_lead := c.lead_id;
        v_fill_contact := NULL;
        v_fill_lead := NULL;
        v_inbound := c.direction = 'inbound' AND c.direction_certain;
        v_at := to_timestamp(c.started_at);

        IF v_contact IS NULL AND c.phone IS NOT NULL AND c.direction IN ('inbound', 'outbound') THEN
            -- The hot lookup: one probe of contact_identifiers' primary key.
            v_contact := (SELECT i.contact_id FROM contact_identifiers i
                          WHERE i.kind = 'phone' AND i.value = c.phone);
            IF v_contact IS NULL AND v_inbound THEN
                INSERT INTO contacts (ad_source, created_by_entry_id)
                VALUES (c.ad_source, c.entry_id)
                RETURNING id INTO v_contact;
                INSERT INTO contact_identifiers (kind, value, contact_id) VALUES ('phone', c.phone, v_contact);
                entry_id := c.entry_id;
                created_contact_id := v_contact;
                RETURN NEXT;
            END IF;
        ELSIF v_contact IS NOT NULL THEN
            v_fill_contact := v_contact;
        END IF;

        IF v_contact IS NOT NULL AND v_lead IS NULL THEN
            -- The lead's clock is the call's own time, so a late delivery counts on its day.
            IF v_inbound THEN
                v_lead := callbridge_open_lead_v1(v_contact, c.ad_source, c.line_number, c.entry_id, v_at,
                                               p_stale_days);
            ELSE
                v_lead := callbridge_join_open_lead_v1(v_contact, v_at, p_stale_days);
            END IF;
        ELSIF v_lead IS NOT NULL AND v_inbound THEN
            v_fill_lead := v_lead;
        END IF;

        -- The manager's id, and whether every extension of the call is a manager already.
        SELECT (SELECT m.id FROM managers m WHERE m.extension = c.manager_extension),
               NOT EXISTS (SELECT 1 FROM unnest(array_append(c.participants, c.manager_extension)) AS w (e)
                           WHERE w.e IS NOT NULL
                             AND NOT EXISTS (SELECT 1 FROM managers m WHERE m.extension = w.e))
        INTO v_manager, v_managers_known;
        IF NOT v_managers_known THEN
            INSERT INTO managers (extension)
            SELECT DISTINCT w.e FROM unnest(array_append(c.participants, c.manager_extension)) AS w (e)
            WHERE w.e IS NOT NULL AND NOT EXISTS (SELECT 1 FROM managers m WHERE m.extension = w.e)
            ON CONFLICT (extension) DO NOTHING;
            v_manager := (SELECT m.id FROM managers m WHERE m.extension = c.manager_extension);
        END IF;

        -- The contact and the lead this very call created get what was learnt since.
        IF (v_fill_contact IS NOT NULL AND c.ad_source IS NOT NULL) OR v_fill_lead IS NOT NULL THEN
            WITH filled_contact AS (
                UPDATE contacts SET ad_source = c.ad_source, updated_at = now()
                WHERE id = v_fill_contact AND created_by_entry_id = c.entry_id AND ad_source IS NULL
                  AND c.ad_source IS NOT NULL
                RETURNING 1
            ), filled_lead AS (
                UPDATE leads SET ad_source = COALESCE(leads.ad_source, c.ad_source),
                                 line_number = COALESCE(leads.line_number, c.line_number)
                WHERE id = v_fill_lead AND opened_by_entry_id = c.entry_id
                  AND (leads.ad_source IS NULL OR leads.line_number IS NULL)
                RETURNING 1
            )
            SELECT (SELECT count(*) FROM filled_contact) + (SELECT count(*) FROM filled_lead) INTO v_filled;
        END IF;

        INSERT INTO communications AS m (
            entry_id, channel, direction, status, phone, phone_raw, contact_id, lead_id,
            manager_id, manager_extension, participants, line_number, ad_source,
            started_at, answered_at, ended_at, talk_seconds, recording_ids,
            disconnect_reason, finished, reconciled
        ) VALUES (
            c.entry_id, 'call', c.direction, c.status, c.phone, c.phone_raw, v_contact, v_lead,
            v_manager, c.manager_extension, c.participants, c.line_number, c.ad_source,
            to_timestamp(c.started_at), to_timestamp(c.answered_at), to_timestamp(c.ended_at),
            c.talk_seconds, c.recording_ids, c.disconnect_reason, c.finished, c.reconciled
        )
        ON CONFLICT ON CONSTRAINT communications_entry_id_key DO UPDATE SET
            direction = EXCLUDED.direction,
            status = EXCLUDED.status,
            phone = EXCLUDED.phone,
            phone_raw = EXCLUDED.phone_raw,
            contact_id = EXCLUDED.contact_id,
            lead_id = EXCLUDED.lead_id,
            manager_id = EXCLUDED.manager_id,
            manager_extension = EXCLUDED.manager_extension,
            participants = EXCLUDED.participants,
            line_number = EXCLUDED.line_number,
            ad_source = EXCLUDED.ad_source,
            started_at = EXCLUDED.started_at,
            answered_at = EXCLUDED.answered_at,
            ended_at = EXCLUDED.ended_at,
            talk_seconds = EXCLUDED.talk_seconds,
            recording_ids = EXCLUDED.recording_ids,
            disconnect_reason = EXCLUDED.disconnect_reason,
            finished = EXCLUDED.finished,
            reconciled = EXCLUDED.reconciled,
            updated_at = now();
    END LOOP;
END
$$;

-- 0017: one row per inquiry with what it became, kept current by triggers (analytics).
CREATE TABLE inquiry_facts (
    communication_id   bigint PRIMARY KEY,
    channel            text NOT NULL,
    status             text NOT NULL,
    ad_source          text,
    line_number        text,
    manager_extension  text,
    started_at         timestamptz NOT NULL,
    answered_at        timestamptz,
    ended_at           timestamptz NOT NULL,  -- the start when the end is not known
    contact_id         bigint,
    lead_id            bigint,
    new_contact        boolean NOT NULL,
    opened_lead        boolean NOT NULL,
    lead_status        text,
    lead_reason        text,
    lead_revenue       numeric NOT NULL,
    reached_at         timestamptz  -- the first answered communication with the person after this one
);
-- The analytics' window.
CREATE INDEX inquiry_facts_started_idx ON inquiry_facts (started_at);

CREATE VIEW inquiry_facts_source AS
SELECT c.id AS communication_id, c.channel, c.status, c.ad_source, c.line_number, c.manager_extension,
       c.started_at, c.answered_at, COALESCE(c.ended_at, c.started_at) AS ended_at, c.contact_id, c.lead_id,
       (ct.created_by_entry_id IS NOT NULL AND ct.created_by_entry_id = c.entry_id) AS new_contact,
       (l.opened_by_entry_id IS NOT NULL AND l.opened_by_entry_id = c.entry_id) AS opened_lead,
       l.status AS lead_status, l.reason AS lead_reason,
       (SELECT COALESCE(sum(t.amount), 0) FROM trips t
        WHERE t.lead_id = c.lead_id AND t.status = 'paid') AS lead_revenue,
       CASE WHEN c.phone IS NOT NULL THEN
           (SELECT min(a.answered_at) FROM communications a
            WHERE a.phone = c.phone AND a.started_at >= c.started_at AND a.id <> c.id
              AND a.answered_at IS NOT NULL AND a.direction IN ('inbound', 'outbound'))
       WHEN c.contact_id IS NOT NULL THEN
           (SELECT min(a.answered_at) FROM communications a
            WHERE a.contact_id = c.contact_id AND a.started_at >= c.started_at AND a.id <> c.id
              AND a.answered_at IS NOT NULL AND a.direction IN ('inbound', 'outbound'))
       END AS reached_at
FROM communications c
LEFT JOIN contacts ct ON ct.id = c.contact_id
LEFT JOIN leads l ON l.id = c.lead_id
WHERE c.direction = 'inbound' AND c.started_at IS NOT NULL;

-- Recompute the facts of communications p_ids from the view: insert, update what
-- changed, delete what is no longer an inquiry. Idempotent. The rows are locked
-- first, in one order: a transaction that recomputed them before and has not
-- committed yet (a booking imported while the lead is closed) is waited for, and
-- the recomputation below, a new statement, sees what it wrote.
--
-- Each id is looked up by itself (a LATERAL subquery that is not flattened, OFFSET
-- 0, so by the primary keys), and the plan is kept (planning the view for each call
-- cost 4 ms; 0.5 ms kept). A kept plan of "= ANY(p_ids)" was made once, sometimes
-- while a bulk load's tables were still nearly empty, and then walked a whole index
-- for every later call.
CREATE FUNCTION inquiry_facts_refresh(p_ids bigint[]) RETURNS void
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
BEGIN
    IF cardinality(p_ids) = 0 THEN  -- most statements (a contact's or a lead's other columns)
        RETURN;
    END IF;
    PERFORM 1 FROM (SELECT DISTINCT id FROM unnest(p_ids) AS u (id) ORDER BY id) AS u
    CROSS JOIN LATERAL (SELECT 1 FROM inquiry_facts f WHERE f.communication_id = u.id OFFSET 0 FOR UPDATE) AS l;
    DELETE FROM inquiry_facts WHERE ctid = ANY(ARRAY(
        SELECT f.ctid FROM unnest(p_ids) AS u (id)
        CROSS JOIN LATERAL (SELECT f.ctid FROM inquiry_facts f WHERE f.communication_id = u.id OFFSET 0) AS f
        -- inquiry_facts_source's condition; a scalar subquery, never made an anti-join
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
        reached_at = EXCLUDED.reached_at
    WHERE f IS DISTINCT FROM EXCLUDED;
END
$$;

-- A contact's creating call decides new_contact (a merge moves the communications:
-- the communications trigger, migration 0019). A new contact has no communications
-- yet, a deleted one's are updated by its foreign key.
CREATE FUNCTION inquiry_facts_after_contacts() RETURNS trigger
LANGUAGE plpgsql SET enable_seqscan = off AS $$
BEGIN
    PERFORM inquiry_facts_refresh(ARRAY(
        SELECT x.id FROM new_rows n JOIN old_rows o ON o.id = n.id
        JOIN communications x ON x.contact_id = n.id  -- communications_contact_idx
        WHERE n.created_by_entry_id IS DISTINCT FROM o.created_by_entry_id AND x.direction = 'inbound'));
    RETURN NULL;
END
$$;
CREATE TRIGGER inquiry_facts_contacts_update AFTER UPDATE ON contacts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION inquiry_facts_after_contacts();

-- A lead's outcome, reason and opening call.
CREATE FUNCTION inquiry_facts_after_leads() RETURNS trigger
LANGUAGE plpgsql SET enable_seqscan = off AS $$
BEGIN
    PERFORM inquiry_facts_refresh(ARRAY(
        SELECT x.id FROM new_rows n JOIN old_rows o ON o.id = n.id
        JOIN communications x ON x.lead_id = n.id  -- communications_lead_idx
        WHERE (n.status, n.reason, n.opened_by_entry_id) IS DISTINCT FROM (o.status, o.reason, o.opened_by_entry_id)
          AND x.direction = 'inbound'));
    RETURN NULL;
END
$$;
CREATE TRIGGER inquiry_facts_leads_update AFTER UPDATE ON leads
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION inquiry_facts_after_leads();

-- A lead's revenue is its paid trips'.
CREATE FUNCTION inquiry_facts_after_trips() RETURNS trigger
LANGUAGE plpgsql SET enable_seqscan = off AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM inquiry_facts_refresh(ARRAY(
            SELECT x.id FROM communications x
            WHERE x.lead_id IN (SELECT lead_id FROM new_rows) AND x.direction = 'inbound'));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM inquiry_facts_refresh(ARRAY(
            SELECT x.id FROM communications x
            WHERE x.lead_id IN (SELECT n.lead_id FROM new_rows n JOIN old_rows o ON o.id = n.id
                                WHERE (n.lead_id, n.status, n.amount) IS DISTINCT FROM (o.lead_id, o.status, o.amount)
                                UNION
                                SELECT o.lead_id FROM new_rows n JOIN old_rows o ON o.id = n.id
                                WHERE (n.lead_id, n.status, n.amount) IS DISTINCT FROM (o.lead_id, o.status, o.amount))
              AND x.direction = 'inbound'));
    ELSE
        PERFORM inquiry_facts_refresh(ARRAY(
            SELECT x.id FROM communications x
            WHERE x.lead_id IN (SELECT lead_id FROM old_rows) AND x.direction = 'inbound'));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER inquiry_facts_trips_insert AFTER INSERT ON trips
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION inquiry_facts_after_trips();
CREATE TRIGGER inquiry_facts_trips_update AFTER UPDATE ON trips
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION inquiry_facts_after_trips();
CREATE TRIGGER inquiry_facts_trips_delete AFTER DELETE ON trips
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION inquiry_facts_after_trips();

-- Lost clients (sql/queries/lost_clients.sql) sum every contact's paid trips from this index alone.
CREATE INDEX trips_paid_contact_idx ON trips (contact_id) INCLUDE (amount, starts_on, ends_on)
    WHERE status = 'paid' AND contact_id IS NOT NULL;

-- Reads at size (migration 0019): a contact's previous lead is one probe of (contact_id, id).
DROP INDEX leads_contact_idx;
CREATE INDEX leads_contact_idx ON leads (contact_id, id);

-- Analytics from inquiry_facts without a sort per distinct count (migration 0019).
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

-- A communication's change can change its own facts, and the first answer of the
-- same person's inquiries that started no later (by phone; by contact for those
-- without a phone). Both the old and the new rows are passed, so a moved start, a
-- changed phone or a contact merged away leaves no stale first answer behind.
-- (0017's inquiry_facts_touched, dropped by 0029), and the same contact's and the
-- same lead's inquiries that started no earlier: a row's arrival, move or departure
-- changes their previous inquiry.
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

-- Lost clients from a summary table (migration 0025).
CREATE TABLE lost_client_facts (
    contact_id             bigint PRIMARY KEY,
    paid_trips             bigint NOT NULL,
    revenue                numeric NOT NULL,
    last_trip_end          date,
    last_communication_at  timestamptz,  -- the start of the contact's latest communication
    open_lead              boolean NOT NULL,
    do_not_call            boolean NOT NULL,
    active                 boolean NOT NULL  -- neither merged nor removed
);
-- The list's order: the best customers first.
CREATE INDEX lost_client_facts_revenue_idx ON lost_client_facts (revenue DESC, contact_id);

CREATE VIEW lost_client_facts_source AS
SELECT p.contact_id, p.paid_trips, p.revenue, p.last_trip_end,
       (SELECT max(x.started_at) FROM communications x WHERE x.contact_id = p.contact_id)
           AS last_communication_at,
       EXISTS (SELECT 1 FROM leads l WHERE l.contact_id = p.contact_id AND l.status = 'open') AS open_lead,
       EXISTS (SELECT 1 FROM contact_identifiers d WHERE d.contact_id = p.contact_id
               AND d.do_not_call_since IS NOT NULL) AS do_not_call,
       EXISTS (SELECT 1 FROM contacts c WHERE c.id = p.contact_id AND c.merged_into IS NULL
               AND c.removed_at IS NULL) AS active
FROM (SELECT t.contact_id, count(*) AS paid_trips, COALESCE(sum(t.amount), 0) AS revenue,
             max(COALESCE(t.ends_on, t.starts_on)) AS last_trip_end
      FROM trips t
      WHERE t.status = 'paid' AND t.contact_id IS NOT NULL
      GROUP BY t.contact_id) AS p;

-- Recompute the rows of contacts p_ids from the view: insert, update what changed,
-- delete those with no paid trip left. Idempotent. Rows locked first in one order,
-- as inquiry_facts_refresh does; each contact looked up by itself (OFFSET 0:
-- trips_paid_contact_idx), with a plan kept per connection.
CREATE FUNCTION lost_client_facts_refresh_v1(p_ids bigint[]) RETURNS void
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan SET enable_seqscan = off AS $$
BEGIN
    IF cardinality(p_ids) = 0 THEN
        RETURN;
    END IF;
    PERFORM 1 FROM (SELECT DISTINCT id FROM unnest(p_ids) AS u (id) WHERE id IS NOT NULL ORDER BY id) AS u
    CROSS JOIN LATERAL (SELECT 1 FROM lost_client_facts f WHERE f.contact_id = u.id OFFSET 0 FOR UPDATE) AS l;
    DELETE FROM lost_client_facts WHERE ctid = ANY(ARRAY(
        SELECT f.ctid FROM unnest(p_ids) AS u (id)
        CROSS JOIN LATERAL (SELECT f.ctid FROM lost_client_facts f WHERE f.contact_id = u.id OFFSET 0) AS f
        WHERE NOT EXISTS (SELECT 1 FROM trips t WHERE t.contact_id = u.id AND t.status = 'paid')));
    INSERT INTO lost_client_facts AS f
    SELECT s.* FROM (SELECT DISTINCT id FROM unnest(p_ids) AS u (id) WHERE id IS NOT NULL) AS u
    CROSS JOIN LATERAL (SELECT * FROM lost_client_facts_source v WHERE v.contact_id = u.id OFFSET 0) AS s
    ON CONFLICT (contact_id) DO UPDATE
    SET paid_trips = EXCLUDED.paid_trips, revenue = EXCLUDED.revenue, last_trip_end = EXCLUDED.last_trip_end,
        last_communication_at = EXCLUDED.last_communication_at, open_lead = EXCLUDED.open_lead,
        do_not_call = EXCLUDED.do_not_call, active = EXCLUDED.active
    WHERE f IS DISTINCT FROM EXCLUDED;
END
$$;

-- p_ids that have a row (the other tables' triggers: only trips add contacts).
CREATE FUNCTION lost_client_facts_refresh_known_v1(p_ids bigint[]) RETURNS void
LANGUAGE plpgsql SET enable_seqscan = off AS $$
BEGIN
    PERFORM lost_client_facts_refresh_v1(ARRAY(
        SELECT u.id FROM (SELECT DISTINCT id FROM unnest(p_ids) AS u (id)) AS u
        WHERE EXISTS (SELECT 1 FROM lost_client_facts f WHERE f.contact_id = u.id)));
END
$$;

CREATE FUNCTION lost_client_facts_after_trips_v1() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM lost_client_facts_refresh_v1(ARRAY(SELECT contact_id FROM new_rows WHERE status = 'paid'));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM lost_client_facts_refresh_v1(ARRAY(
            SELECT n.contact_id FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE (n.contact_id, n.status, n.amount, n.starts_on, n.ends_on)
                  IS DISTINCT FROM (o.contact_id, o.status, o.amount, o.starts_on, o.ends_on)
            UNION
            SELECT o.contact_id FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE (n.contact_id, n.status, n.amount, n.starts_on, n.ends_on)
                  IS DISTINCT FROM (o.contact_id, o.status, o.amount, o.starts_on, o.ends_on)));
    ELSE
        PERFORM lost_client_facts_refresh_v1(ARRAY(SELECT contact_id FROM old_rows WHERE status = 'paid'));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER lost_client_facts_trips_insert AFTER INSERT ON trips
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lost_client_facts_after_trips_v1();
CREATE TRIGGER lost_client_facts_trips_update AFTER UPDATE ON trips
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lost_client_facts_after_trips_v1();
CREATE TRIGGER lost_client_facts_trips_delete AFTER DELETE ON trips
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION lost_client_facts_after_trips_v1();

-- A communication's start and contact (a merge moves them): the contact's last one.
-- Most statements on communications are a call's state changing: no contact named.
CREATE FUNCTION lost_client_facts_after_communications_v1() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM lost_client_facts_refresh_known_v1(ARRAY(
            SELECT contact_id FROM new_rows WHERE contact_id IS NOT NULL AND started_at IS NOT NULL));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM lost_client_facts_refresh_known_v1(ARRAY(
            SELECT unnest(ARRAY[n.contact_id, o.contact_id]) FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE (n.contact_id, n.started_at) IS DISTINCT FROM (o.contact_id, o.started_at)));
    ELSE
        PERFORM lost_client_facts_refresh_known_v1(ARRAY(SELECT contact_id FROM old_rows));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER lost_client_facts_communications_insert AFTER INSERT ON communications
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lost_client_facts_after_communications_v1();
CREATE TRIGGER lost_client_facts_communications_update AFTER UPDATE ON communications
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lost_client_facts_after_communications_v1();
CREATE TRIGGER lost_client_facts_communications_delete AFTER DELETE ON communications
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION lost_client_facts_after_communications_v1();

-- An open lead (opened, closed, moved by a merge).
CREATE FUNCTION lost_client_facts_after_leads_v1() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM lost_client_facts_refresh_known_v1(ARRAY(SELECT contact_id FROM new_rows WHERE status = 'open'));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM lost_client_facts_refresh_known_v1(ARRAY(
            SELECT unnest(ARRAY[n.contact_id, o.contact_id]) FROM new_rows n JOIN old_rows o ON o.id = n.id
            WHERE (n.contact_id, n.status) IS DISTINCT FROM (o.contact_id, o.status)));
    ELSE
        PERFORM lost_client_facts_refresh_known_v1(ARRAY(SELECT contact_id FROM old_rows WHERE status = 'open'));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER lost_client_facts_leads_insert AFTER INSERT ON leads
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lost_client_facts_after_leads_v1();
CREATE TRIGGER lost_client_facts_leads_update AFTER UPDATE ON leads
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lost_client_facts_after_leads_v1();
CREATE TRIGGER lost_client_facts_leads_delete AFTER DELETE ON leads
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION lost_client_facts_after_leads_v1();

-- «Не звонить» on an identifier, and identifiers moved by a merge.
CREATE FUNCTION lost_client_facts_after_identifiers_v1() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM lost_client_facts_refresh_known_v1(ARRAY(
            SELECT contact_id FROM new_rows WHERE do_not_call_since IS NOT NULL));
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM lost_client_facts_refresh_known_v1(ARRAY(
            SELECT unnest(ARRAY[n.contact_id, o.contact_id]) FROM new_rows n JOIN old_rows o
                ON o.kind = n.kind AND o.value = n.value
            WHERE (n.contact_id, n.do_not_call_since) IS DISTINCT FROM (o.contact_id, o.do_not_call_since)));
    ELSE
        PERFORM lost_client_facts_refresh_known_v1(ARRAY(
            SELECT contact_id FROM old_rows WHERE do_not_call_since IS NOT NULL));
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER lost_client_facts_identifiers_insert AFTER INSERT ON contact_identifiers
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lost_client_facts_after_identifiers_v1();
CREATE TRIGGER lost_client_facts_identifiers_update AFTER UPDATE ON contact_identifiers
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lost_client_facts_after_identifiers_v1();
CREATE TRIGGER lost_client_facts_identifiers_delete AFTER DELETE ON contact_identifiers
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION lost_client_facts_after_identifiers_v1();

-- A contact merged away or removed (or back). A deleted contact's trips lose it
-- (ON DELETE SET NULL): the trips' trigger.
CREATE FUNCTION lost_client_facts_after_contacts_v1() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM lost_client_facts_refresh_known_v1(ARRAY(
        SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
        WHERE (n.merged_into, n.removed_at) IS DISTINCT FROM (o.merged_into, o.removed_at)));
    RETURN NULL;
END
$$;
CREATE TRIGGER lost_client_facts_contacts_update AFTER UPDATE ON contacts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION lost_client_facts_after_contacts_v1();

-- What is there already.
INSERT INTO lost_client_facts SELECT * FROM lost_client_facts_source;
ANALYZE lost_client_facts;

-- The missed report's «Не звонить» probes (migration 0025): indexes of the marked identifiers only.
CREATE INDEX contact_identifiers_do_not_call_contact_idx ON contact_identifiers (contact_id)
    WHERE do_not_call_since IS NOT NULL;
CREATE INDEX contact_identifiers_do_not_call_value_idx ON contact_identifiers (kind, value)
    WHERE do_not_call_since IS NOT NULL;
-- Replies from the screen through a durable outbox, and the conversation message by message.
--
-- communications.reply_to: how to answer the conversation (the latest message's
-- ReplyAddress: {"to": ..., "thread": {...}}); NULL where the channel gave no way back.
ALTER TABLE communications ADD COLUMN reply_to jsonb;

-- One row per message of a conversation, both ways. Inbound rows ('in', 'received')
-- are written by the inquiry projector; outbound ones are a manager's reply or an
-- auto-reply ('queued' until the sender has delivered them: 'sent' or 'failed'), or a
-- reply made elsewhere that the channel reported back ('sent' at once). A queued row
-- IS the outbox: written in the transaction that answers 202, claimed by one sender
-- at a time (FOR UPDATE SKIP LOCKED), its id the idempotency key given to providers
-- that take one (VK random_id).
CREATE TABLE communication_messages (
    id                bigserial PRIMARY KEY,
    communication_id  bigint NOT NULL REFERENCES communications (id) ON DELETE CASCADE,
    direction         text NOT NULL CHECK (direction IN ('in', 'out')),
    kind              text NOT NULL CHECK (kind IN ('message', 'reply', 'auto_reply', 'elsewhere')),
    text              text NOT NULL,
    at                timestamptz NOT NULL DEFAULT now(),
    status            text NOT NULL CHECK (status IN ('received', 'queued', 'sent', 'failed')),
    error             text,
    extension         text,
    -- The reply channel (ReplyChannel.kind), the source and the address, as they were when queued.
    channel           text,
    source            text,
    address           jsonb,
    contact_id        bigint,
    attempts          integer NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz,
    -- Set while a sender holds the message; still set when it is claimed again, the
    -- last attempt never ended (a killed daemon): it may have been delivered.
    in_flight_since   timestamptz,
    maybe_delivered   boolean NOT NULL DEFAULT false,
    provider_id       text,
    sent_at           timestamptz,
    idempotency_key   text,
    CONSTRAINT communication_messages_idempotency_key UNIQUE (communication_id, idempotency_key),
    CONSTRAINT communication_messages_queue_check CHECK (status <> 'queued' OR next_attempt_at IS NOT NULL)
);
-- The conversation in the order callbridge learnt of its messages (a customer's clock and ours
-- disagree: an e-mail's Date, a Telegram message's date, our reply's now()).
CREATE INDEX communication_messages_conversation_idx ON communication_messages (communication_id, id);
-- What is due to be sent: only queued rows are in it.
CREATE INDEX communication_messages_due_idx ON communication_messages (next_attempt_at, id) WHERE status = 'queued';
-- At most one auto-reply per contact per 12 hours: a contact's communications
-- (communications_contact_idx, which a merge re-points), then their auto-replies.
CREATE INDEX communication_messages_auto_reply_idx ON communication_messages (communication_id, at)
    WHERE kind = 'auto_reply';


-- The inbox: one queue of everything unanswered (missed calls not called back,
-- inquiries not answered), with a response clock and an assignment per item.
--
-- The table `inbox` is the PBX's raw events (migration 0001); this queue is
-- `inbox_items`. Items are made and closed by a trigger on `communications`, in
-- the transaction that writes the communication, whoever writes it: the call
-- pipeline, the inquiry projector, a merge, the outbox setting `replied_at`. So
-- the core imports no inbox code, no second daemon can miss a change, and a
-- read is one indexed scan of the open items instead of the report's
-- per-caller aggregation. The clock (due_at, from the office calendar, which
-- only the daemon's settings know) and the assignment are the daemon's sweep
-- (daemon/inbox/sweep.py), state here, steps claimed with SKIP LOCKED.


-- The morning report's rule, in one place: the caller was reached after `p_at`
-- when an answered call with that number, either way, started later.
-- sql/queries/reports.sql (missed_callers) and the inbox trigger both call it.
-- Uses communications_phone_idx.
CREATE FUNCTION callbridge_reached_after_v1(p_phone text, p_at timestamptz) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM communications later
        WHERE later.phone = p_phone
          AND later.status = 'answered'
          AND later.direction IN ('inbound', 'outbound')
          AND later.started_at > p_at)
$$;


CREATE TABLE inbox_items (
    id                  bigserial PRIMARY KEY,
    kind                text NOT NULL CHECK (kind IN ('call', 'inquiry', 'task')),
    -- A call or an inquiry is a communication; a task (a reminder) will be a row
    -- of its own table, named here by task_id, and joins the same queue and clock.
    communication_id    bigint UNIQUE REFERENCES communications (id) ON DELETE CASCADE,
    task_id             bigint,
    contact_id          bigint REFERENCES contacts (id) ON DELETE SET NULL,
    phone               text,
    channel             text NOT NULL,
    source              text,
    received_at         timestamptz NOT NULL,
    -- Set by the sweep from the office calendar and [sla]; NULL for a moment after the item is made.
    due_at              timestamptz,
    state               text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed')),
    assigned_extension  text,
    assign_reason       text CHECK (assign_reason IN ('responsible', 'balanced', 'queued', 'escalated')),
    assigned_at         timestamptz,
    -- When each step of the clock fired (once: claimed with SKIP LOCKED).
    overdue_at          timestamptz,
    escalated_at        timestamptz,
    closed_at           timestamptz,
    closed_reason       text CHECK (closed_reason IN ('replied', 'called_back', 'answered', 'done')),
    closed_by           text,
    closed_note         text,
    -- Counted in callbridge_first_response_seconds (by one daemon: claimed with SKIP LOCKED).
    observed            boolean NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT inbox_items_subject CHECK (
        CASE kind WHEN 'task' THEN task_id IS NOT NULL ELSE communication_id IS NOT NULL END),
    CONSTRAINT inbox_items_closed CHECK ((state = 'closed') = (closed_at IS NOT NULL))
);
-- One open call item per caller: a second miss before the call back joins the first.
CREATE UNIQUE INDEX inbox_items_open_caller_idx ON inbox_items (phone) WHERE kind = 'call' AND state = 'open';
CREATE UNIQUE INDEX inbox_items_task_idx ON inbox_items (task_id) WHERE task_id IS NOT NULL;
-- The list (overdue first is due_at first: an overdue item is one whose due_at has passed).
CREATE INDEX inbox_items_open_due_idx ON inbox_items (due_at, id) WHERE state = 'open';
CREATE INDEX inbox_items_open_assigned_idx ON inbox_items (assigned_extension, due_at, id) WHERE state = 'open';
-- Closing by a call: the contact's items.
CREATE INDEX inbox_items_open_contact_idx ON inbox_items (contact_id) WHERE state = 'open';
-- The sweep's work: items without a clock, and unassigned ones, oldest first.
CREATE INDEX inbox_items_unclocked_idx ON inbox_items (id) WHERE state = 'open' AND due_at IS NULL;
CREATE INDEX inbox_items_unassigned_idx ON inbox_items (received_at, id)
    WHERE state = 'open' AND assigned_extension IS NULL;
-- The clock's steps: what is still to fire, by due time.
CREATE INDEX inbox_items_overdue_pending_idx ON inbox_items (due_at) WHERE state = 'open' AND overdue_at IS NULL;
CREATE INDEX inbox_items_escalation_pending_idx ON inbox_items (due_at) WHERE state = 'open' AND escalated_at IS NULL;
CREATE INDEX inbox_items_unobserved_idx ON inbox_items (id) WHERE state = 'closed' AND NOT observed;

-- Every assignment decision with its reason (responsible, balanced, queued, escalated).
CREATE TABLE inbox_decisions (
    id          bigserial PRIMARY KEY,
    item_id     bigint NOT NULL REFERENCES inbox_items (id) ON DELETE CASCADE,
    at          timestamptz NOT NULL DEFAULT now(),
    extension   text,
    reason      text NOT NULL,
    previous    text
);
CREATE INDEX inbox_decisions_item_idx ON inbox_decisions (item_id, at);

-- Who is on shift: set by hand (PUT /api/managers/{extension}/shift) ...
CREATE TABLE manager_shifts (
    extension   text PRIMARY KEY,
    on_shift    boolean NOT NULL,
    set_at      timestamptz NOT NULL DEFAULT now()
);
-- ... or signed in to the screen now: each daemon refreshes its screens' rows.
CREATE TABLE screen_presence (
    daemon_id   text NOT NULL,
    extension   text NOT NULL,
    seen_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (daemon_id, extension)
);
CREATE INDEX screen_presence_extension_idx ON screen_presence (extension, seen_at);

-- The extensions on shift at p_now: set on by hand, or with a screen seen within
-- p_presence_s and not set off by hand; never an inactive manager.
CREATE FUNCTION inbox_on_shift_v1(p_now timestamptz, p_presence_s double precision)
RETURNS TABLE (extension text)
LANGUAGE sql STABLE AS $$
    SELECT x.e FROM (
        SELECT s.extension AS e FROM manager_shifts s WHERE s.on_shift
        UNION
        SELECT p.extension FROM screen_presence p
        WHERE p.seen_at > p_now - make_interval(secs => p_presence_s)
          AND NOT EXISTS (SELECT 1 FROM manager_shifts s WHERE s.extension = p.extension AND NOT s.on_shift)
    ) x
    WHERE NOT EXISTS (SELECT 1 FROM managers m WHERE m.extension = x.e AND NOT m.active)
$$;

-- The on-shift manager with the fewest open items (fewer than p_cap, unless NULL),
-- other than p_exclude; NULL when nobody qualifies.
CREATE FUNCTION inbox_least_loaded_v1(p_now timestamptz, p_presence_s double precision, p_cap integer,
                                      p_exclude text)
RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT s.extension
    FROM inbox_on_shift_v1(p_now, p_presence_s) s
    CROSS JOIN LATERAL (SELECT count(*) AS n FROM inbox_items o
                        WHERE o.state = 'open' AND o.assigned_extension = s.extension) c
    WHERE s.extension IS DISTINCT FROM p_exclude AND (p_cap IS NULL OR c.n < p_cap)
    ORDER BY c.n, s.extension
    LIMIT 1
$$;

-- Assign the unassigned open items: to the contact's active responsible manager;
-- else, oldest first, to the least loaded manager on shift under the cap while one
-- has room; the rest wait ('queued', stored once). Only the rows it assigns or
-- queues are touched, so a long queue costs a scan, not a write, per pass. One
-- daemon at a time (a try-lock: the other's sweep skips). Returns the items assigned.
CREATE FUNCTION inbox_assign_v1(p_now timestamptz, p_presence_s double precision, p_cap integer)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
    v_ext text;
    v_done integer := 0;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtextextended('inbox:assign', 0)) THEN
        RETURN 0;
    END IF;
    WITH picked AS (
        SELECT i.id, mg.extension
        FROM inbox_items i
        JOIN contacts ct ON ct.id = i.contact_id
        JOIN managers mg ON mg.id = ct.responsible_id AND mg.active AND mg.extension IS NOT NULL
        WHERE i.state = 'open' AND i.assigned_extension IS NULL
        FOR UPDATE OF i SKIP LOCKED
    ), assigned AS (
        UPDATE inbox_items t SET assigned_extension = p.extension, assign_reason = 'responsible',
                                 assigned_at = p_now, updated_at = now()
        FROM picked p WHERE t.id = p.id
        RETURNING t.id, t.assigned_extension
    )
    INSERT INTO inbox_decisions (item_id, at, extension, reason)
    SELECT id, p_now, assigned_extension, 'responsible' FROM assigned;
    GET DIAGNOSTICS v_done = ROW_COUNT;
    LOOP
        v_ext := inbox_least_loaded_v1(p_now, p_presence_s, p_cap, NULL);
        EXIT WHEN v_ext IS NULL;
        SELECT id INTO v_id FROM inbox_items
        WHERE state = 'open' AND assigned_extension IS NULL
        ORDER BY received_at, id LIMIT 1
        FOR UPDATE SKIP LOCKED;
        EXIT WHEN v_id IS NULL;
        UPDATE inbox_items SET assigned_extension = v_ext, assign_reason = 'balanced', assigned_at = p_now,
                               updated_at = now()
        WHERE id = v_id;
        INSERT INTO inbox_decisions (item_id, at, extension, reason) VALUES (v_id, p_now, v_ext, 'balanced');
        v_done := v_done + 1;
    END LOOP;
    WITH waiting AS (
        UPDATE inbox_items SET assign_reason = 'queued', updated_at = now()
        WHERE id IN (SELECT id FROM inbox_items
                     WHERE state = 'open' AND assigned_extension IS NULL AND assign_reason IS NULL
                     FOR UPDATE SKIP LOCKED)  -- a row a writer holds now is queued next pass
        RETURNING id
    )
    INSERT INTO inbox_decisions (item_id, at, reason) SELECT id, p_now, 'queued' FROM waiting;
    RETURN v_done;
END;
$$;

-- Escalate one open item (its row locked by the caller): to the least loaded
-- other manager on shift (no cap: it is late), else the administrator, else it
-- stays; reason 'escalated' either way. Returns the new extension.
CREATE FUNCTION inbox_escalate_v1(p_id bigint, p_now timestamptz, p_presence_s double precision,
                                  p_admin text)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_prev text;
    v_ext text;
BEGIN
    SELECT assigned_extension INTO v_prev FROM inbox_items WHERE id = p_id;
    v_ext := COALESCE(inbox_least_loaded_v1(p_now, p_presence_s, NULL, v_prev),
                      CASE WHEN p_admin IS DISTINCT FROM v_prev THEN p_admin END, v_prev);
    UPDATE inbox_items SET assigned_extension = v_ext, assign_reason = 'escalated', assigned_at = p_now,
                           escalated_at = p_now, updated_at = now()
    WHERE id = p_id;
    INSERT INTO inbox_decisions (item_id, at, extension, reason, previous) VALUES (p_id, p_now, v_ext, 'escalated', v_prev);
    RETURN v_ext;
END;
$$;

-- Close the open items a communication answers: an answered call (either way)
-- closes its caller's call item and the inquiries of every contact holding that
-- phone, received before it; closed at the call's start (when the person was reached,
-- whenever its events arrive).
CREATE FUNCTION inbox_close_answered_v1(p_phone text, p_contact bigint, p_at timestamptz) RETURNS void
LANGUAGE sql AS $$
    UPDATE inbox_items i SET state = 'closed', closed_at = p_at, closed_reason = 'called_back', updated_at = now()
    WHERE i.state = 'open' AND i.received_at < p_at
      AND ((i.kind = 'call' AND i.phone = p_phone)
           OR (i.kind = 'inquiry' AND (i.phone = p_phone OR i.contact_id = p_contact OR i.contact_id =
               (SELECT d.contact_id FROM contact_identifiers d WHERE d.kind = 'phone' AND d.value = p_phone))))
$$;

-- Whether any phone of the contact (or p_phone) was reached in an answered call after p_at.
CREATE FUNCTION inbox_contact_reached_after_v1(p_contact bigint, p_phone text, p_at timestamptz)
RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT (p_phone IS NOT NULL AND callbridge_reached_after_v1(p_phone, p_at))
        OR EXISTS (SELECT 1 FROM contact_identifiers d
                   WHERE d.contact_id = p_contact AND d.kind = 'phone'
                     AND callbridge_reached_after_v1(d.value, p_at))
$$;

-- The trigger: keep inbox_items in step with communications. A customer who writes
-- again in an answered conversation is back in the queue (migration 0029).
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

-- Every change of the queue is announced on callbridge_inbox: one constant
-- payload, so a transaction's many changed rows fold into one notification; the
-- screens of every daemon re-read their lists.
CREATE FUNCTION inbox_notify_v1() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('callbridge_inbox', '{"type":"inbox"}');
    RETURN NULL;
END;
$$;
CREATE TRIGGER inbox_items_notify
    AFTER INSERT OR UPDATE OR DELETE ON inbox_items
    FOR EACH ROW EXECUTE FUNCTION inbox_notify_v1();

-- Items for what is already waiting: the open inquiries and missed callers of the
-- last week. They waited before the clock existed: their steps count as fired, so
-- the first sweep does not page and e-mail about every one of them.
INSERT INTO inbox_items (kind, communication_id, contact_id, phone, channel, source, received_at,
                         overdue_at, escalated_at)
SELECT DISTINCT ON (CASE WHEN c.channel = 'call' THEN c.phone ELSE c.id::text END)
       CASE WHEN c.channel = 'call' THEN 'call' ELSE 'inquiry' END, c.id, c.contact_id, c.phone, c.channel,
       CASE WHEN c.channel = 'call' THEN c.ad_source ELSE c.source END, c.started_at, now(), now()
FROM communications c
WHERE c.started_at > now() - interval '7 days'
  AND ((c.channel = 'call' AND c.direction = 'inbound' AND c.status = 'missed' AND c.phone IS NOT NULL
        AND NOT callbridge_reached_after_v1(c.phone, c.started_at))
       OR (c.channel <> 'call' AND c.replied_at IS NULL AND c.direction IS DISTINCT FROM 'outbound'
           AND NOT inbox_contact_reached_after_v1(c.contact_id, c.phone, c.started_at)))
ORDER BY CASE WHEN c.channel = 'call' THEN c.phone ELSE c.id::text END, c.started_at
ON CONFLICT DO NOTHING;

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

-- MAX and Avito accounts find a person like a Telegram or VK id (a positive
-- integer, the same value shape), and our replies' delivery states reported by
-- the providers (Wazzup `statuses`) are kept by the provider's message id.
ALTER TABLE contact_identifiers DROP CONSTRAINT contact_identifiers_kind_check;
ALTER TABLE contact_identifiers ADD CONSTRAINT contact_identifiers_kind_check
    CHECK (kind IN ('phone', 'email', 'telegram', 'vk', 'max', 'avito'));
ALTER TABLE contact_invalid_identifiers DROP CONSTRAINT contact_invalid_identifiers_kind_check;
ALTER TABLE contact_invalid_identifiers ADD CONSTRAINT contact_invalid_identifiers_kind_check
    CHECK (kind IN ('phone', 'email', 'telegram', 'vk', 'max', 'avito'));

-- The latest delivery state a provider reported for one of our sent messages
-- (`sent`, `delivered`, `read`, `error`), by the id the provider gave it: the
-- outbox keeps that id as the message's provider id and reads its state here.
CREATE TABLE reply_statuses (
    source         text NOT NULL,
    provider_id    text NOT NULL,
    status         text NOT NULL,
    rank           smallint NOT NULL,
    reported_at    timestamptz NOT NULL,
    detail         text,
    PRIMARY KEY (source, provider_id)
);

-- Reminders join the inbox (issue 23 item 6 with issue 20 item 1): every open task
-- is an inbox item of kind 'task', in the same queue and on the same screen as the
-- calls and inquiries to answer. Its due time is the task's own (not the [sla]
-- clock's), it goes to the task's manager, and it is never escalated: a reminder
-- is not a customer waiting. Closing either closes the other: a task marked done
-- (POST /api/tasks/{id}/done) closes its item, and an item closed by hand
-- (POST /api/inbox/{id}/done) marks its task done.
ALTER TABLE inbox_items ADD CONSTRAINT inbox_items_task_fk
    FOREIGN KEY (task_id) REFERENCES tasks (id) ON DELETE CASCADE;

CREATE FUNCTION inbox_tasks_after_insert_v1() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO inbox_items (kind, task_id, contact_id, phone, channel, source, received_at, due_at,
                             assigned_extension, assign_reason, assigned_at)
    SELECT 'task', t.id, t.contact_id,
           (SELECT i.value FROM contact_identifiers i
            WHERE i.contact_id = t.contact_id AND i.kind = 'phone' ORDER BY i.created_at, i.value LIMIT 1),
           'task', t.kind, t.created_at, t.due_at, t.extension,
           CASE WHEN t.extension IS NOT NULL THEN 'responsible' END,
           CASE WHEN t.extension IS NOT NULL THEN now() END
    FROM new_rows t
    WHERE t.done_at IS NULL
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER inbox_tasks_insert AFTER INSERT ON tasks
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION inbox_tasks_after_insert_v1();

CREATE FUNCTION inbox_tasks_after_done_v1() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE inbox_items
    SET state = 'closed', closed_at = NEW.done_at, closed_reason = 'done', closed_by = NEW.done_by,
        updated_at = now()
    WHERE task_id = NEW.id AND state = 'open';
    RETURN NULL;
END
$$;
CREATE TRIGGER inbox_tasks_done AFTER UPDATE OF done_at ON tasks
    FOR EACH ROW WHEN (OLD.done_at IS NULL AND NEW.done_at IS NOT NULL)
    EXECUTE FUNCTION inbox_tasks_after_done_v1();

CREATE FUNCTION inbox_items_task_closed_v1() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE tasks SET done_at = NEW.closed_at, done_by = NEW.closed_by
    WHERE id = NEW.task_id AND done_at IS NULL;
    RETURN NULL;
END
$$;
CREATE TRIGGER inbox_items_task_closed AFTER UPDATE OF state ON inbox_items
    FOR EACH ROW WHEN (NEW.kind = 'task' AND OLD.state = 'open' AND NEW.state = 'closed')
    EXECUTE FUNCTION inbox_items_task_closed_v1();

-- 0030: a contact's duplicate probe that keeps its plan without statistics.
CREATE OR REPLACE FUNCTION contact_candidate_pairs(p_ids bigint[])
RETURNS TABLE (low bigint, high bigint, reason text, score double precision, evidence jsonb)
LANGUAGE sql STABLE AS $$
    WITH ids AS MATERIALIZED (
        SELECT DISTINCT id FROM unnest(p_ids) AS u (id) WHERE id IS NOT NULL
    ), dirty AS MATERIALIZED (
        SELECT c.id, c.name_key
        FROM ids JOIN contacts c ON c.id = ids.id
        WHERE c.merged_into IS NULL AND c.removed_at IS NULL
    ), hint_rows AS MATERIALIZED (
        SELECT h.contact_low, h.contact_high, h.evidence
        FROM ids JOIN contact_duplicate_hints h ON h.contact_low = ids.id
        UNION
        SELECT h.contact_low, h.contact_high, h.evidence
        FROM ids JOIN contact_duplicate_hints h ON h.contact_high = ids.id
    ), hinted AS MATERIALIZED (
        SELECT h.contact_low, h.contact_high, h.evidence
        FROM hint_rows h
        WHERE EXISTS (SELECT 1 FROM contacts a
                      WHERE a.id = h.contact_low AND a.merged_into IS NULL AND a.removed_at IS NULL)
          AND EXISTS (SELECT 1 FROM contacts b
                      WHERE b.id = h.contact_high AND b.merged_into IS NULL AND b.removed_at IS NULL)
    ), phones AS MATERIALIZED (
        SELECT d.id, d.name_key, p.value
        FROM dirty d
        JOIN contact_identifiers p ON p.contact_id = d.id AND p.kind = 'phone'
        WHERE d.name_key IS NOT NULL
    ), near AS MATERIALIZED (
        SELECT p.id AS a, p.name_key, p.value AS va, o.contact_id AS b, o.value AS vb
        FROM phones p
        JOIN contact_identifiers o ON o.kind = 'phone'
                                  AND left(o.value, length(o.value) - 5) = left(p.value, length(p.value) - 5)
        UNION ALL
        SELECT p.id, p.name_key, p.value, o.contact_id, o.value
        FROM phones p
        JOIN contact_identifiers o ON o.kind = 'phone'
                                  AND left(o.value, length(o.value) - 10) || right(o.value, 5)
                                      = left(p.value, length(p.value) - 10) || right(p.value, 5)
    ), named AS (
        SELECT DISTINCT least(n.a, n.b) AS low, greatest(n.a, n.b) AS high
        FROM near n
        WHERE n.a <> n.b AND length(n.va) = length(n.vb) AND contact_phone_digits_apart(n.va, n.vb) <= 2
          AND EXISTS (SELECT 1 FROM contacts c
                      WHERE c.id = n.b AND c.name_key = n.name_key AND c.merged_into IS NULL AND c.removed_at IS NULL)
    ), found AS (
        SELECT contact_low AS low, contact_high AS high, 'identifier' AS reason, 1.0::float8 AS score, evidence
        FROM hinted
        UNION ALL
        SELECT n.low, n.high, 'name', 0.75::float8, '{"same_name": true, "similar_phone": true}'::jsonb
        FROM named n
        WHERE NOT EXISTS (SELECT 1 FROM hinted h WHERE h.contact_low = n.low AND h.contact_high = n.high)
    )
    SELECT f.* FROM found f
    WHERE NOT EXISTS (SELECT 1 FROM contact_not_duplicates x WHERE x.contact_low = f.low AND x.contact_high = f.high)
$$;

-- 0031: a provider's request limit shared by every daemon.
CREATE TABLE send_pace (
    key   text PRIMARY KEY,  -- '<channel kind>:<source name>'
    tat   timestamptz NOT NULL
);

-- 0032: Instagram accounts (through Wazzup) find a person like the other messenger ids.
ALTER TABLE contact_identifiers DROP CONSTRAINT contact_identifiers_kind_check;
ALTER TABLE contact_identifiers ADD CONSTRAINT contact_identifiers_kind_check
    CHECK (kind IN ('phone', 'email', 'telegram', 'vk', 'max', 'avito', 'instagram'));
ALTER TABLE contact_invalid_identifiers DROP CONSTRAINT contact_invalid_identifiers_kind_check;
ALTER TABLE contact_invalid_identifiers ADD CONSTRAINT contact_invalid_identifiers_kind_check
    CHECK (kind IN ('phone', 'email', 'telegram', 'vk', 'max', 'avito', 'instagram'));
-- The value shape repeats daemon/domain/identifiers.py: an Instagram id is text,
-- every other messenger account a positive integer.
ALTER TABLE contact_identifiers DROP CONSTRAINT contact_identifiers_value_shape;
ALTER TABLE contact_identifiers ADD CONSTRAINT contact_identifiers_value_shape CHECK (CASE kind
    WHEN 'phone' THEN value ~ '^\+[1-9][0-9]{6,14}$'
    WHEN 'email' THEN value = lower(value) AND value ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$'
    WHEN 'instagram' THEN value ~ '^[A-Za-z0-9._-]{1,64}$'
    ELSE value ~ '^[1-9][0-9]{0,19}$'
END);

-- 0034: the analytics' summary is recomputed only when an update changed what it is made of.
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

-- 0035: a message's wish laid over its lead's, as a function (the filing statement calls it).
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

-- 0036: the duplicate candidates and the analytics' facts the intake touches are settled
-- just after its transaction (settle_pending, the "settle" task).
CREATE TABLE settle_pending (
    what      text NOT NULL CHECK (what IN ('candidates', 'facts')),
    id        bigint NOT NULL,  -- a contact (candidates) or a communication (facts)
    noted_at  timestamptz NOT NULL DEFAULT now()
);

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

-- 0037: a campaign caller's card of a contact, one view for campaign_next and campaign_contact_card.
CREATE VIEW campaign_contact_cards AS
SELECT c.id AS contact_id, c.name, c.tags, p.score, p.score_reasons::text AS score_reasons,
       p.preferred_channel, c.birthday, m.extension AS responsible_extension, m.name AS responsible_name,
       ARRAY(SELECT i.value FROM contact_identifiers i WHERE i.contact_id = c.id AND i.kind = 'phone'
             ORDER BY i.created_at, i.value) AS phones,
       ARRAY(SELECT i.value FROM contact_identifiers i WHERE i.contact_id = c.id AND i.kind = 'email'
             ORDER BY i.value) AS emails,
       (SELECT COALESCE(jsonb_agg(t ORDER BY t.starts_on DESC NULLS LAST, t.id DESC), '[]')
        FROM (SELECT id, order_number, status, amount::float8 AS amount, starts_on, ends_on FROM trips
              WHERE contact_id = c.id ORDER BY starts_on DESC NULLS LAST, id DESC LIMIT 20) t)::text AS trips,
       (SELECT COALESCE(jsonb_agg(n ORDER BY n.started_at DESC NULLS LAST, n.id DESC), '[]')
        FROM (SELECT id, started_at, channel, direction, manager_extension, note FROM communications
              WHERE contact_id = c.id AND note IS NOT NULL
              ORDER BY started_at DESC NULLS LAST, id DESC LIMIT 5) n)::text AS notes
FROM contacts c
LEFT JOIN managers m ON m.id = c.responsible_id
LEFT JOIN contact_profiles p ON p.contact_id = c.id;
