-- A provider's request limit shared by every daemon (issue 22: at most 30 requests a second
-- to MAX). Each sender reserves its send's slot here before it calls the provider, as the
-- routes do in route_rate_bucket (migration 0009): one row per paced source, a GCRA's
-- theoretical arrival time. Two daemons behind one load balancer then send at the rate
-- one would, where a limiter in each process let through twice it.

CREATE TABLE send_pace (
    key   text PRIMARY KEY,  -- '<channel kind>:<source name>'
    tat   timestamptz NOT NULL
);
