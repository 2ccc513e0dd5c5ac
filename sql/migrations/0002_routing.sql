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

ALTER TABLE communications
    ADD COLUMN routed_to         text,
    ADD COLUMN route_reason      text,
    ADD COLUMN route_command_id  text,
    ADD COLUMN route_result      integer;
