-- callbridge: the whole schema as the migrations in sql/migrations/ leave it.
-- tests/test_migrations.py proves the two agree; change both together.

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
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contacts_responsible_idx ON contacts (responsible_id);

-- One phone belongs to one contact; the primary key is the lookup index.
CREATE TABLE contact_phones (
    phone        text PRIMARY KEY CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    contact_id   bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX contact_phones_contact_idx ON contact_phones (contact_id);

CREATE TABLE contact_emails (
    email        text PRIMARY KEY CHECK (email = lower(email)),
    contact_id   bigint NOT NULL REFERENCES contacts (id) ON DELETE CASCADE
);
CREATE INDEX contact_emails_contact_idx ON contact_emails (contact_id);

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
    status        text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    ad_source     text,
    line_number   text,
    opened_by_entry_id text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    closed_at     timestamptz
);
-- At most one open lead per contact: concurrent first calls cannot open two.
CREATE UNIQUE INDEX leads_one_open_per_contact ON leads (contact_id) WHERE status = 'open';

-- One row per PBX call (entry_id). Every column but note is derived from the
-- call's events in the inbox, so any delivery order gives the same row.
CREATE TABLE communications (
    id                 bigserial PRIMARY KEY,
    entry_id           text NOT NULL UNIQUE,
    channel            text NOT NULL DEFAULT 'call',
    direction          text CHECK (direction IN ('inbound', 'outbound', 'internal')),
    status             text NOT NULL CHECK (status IN ('ringing', 'answered', 'missed')),
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
CREATE INDEX communications_contact_idx ON communications (contact_id, started_at);
CREATE INDEX communications_phone_idx ON communications (phone, started_at);
CREATE INDEX communications_started_idx ON communications (started_at);

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

-- Routing decisions (issue 3): what callbridge decided for each call leg that
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

-- The PBX's route limit (issue 9, item 7) is per product, not per daemon: two
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

-- The manager's screen (issue 6): every change of a call's communication is
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
