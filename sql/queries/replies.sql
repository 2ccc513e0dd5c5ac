-- The conversation message by message, and the outbox of replies (migration 0020).
-- A queued row is a reply not yet delivered; each attempt's writes are fenced by
-- the attempt number the claim gave, so a sender whose lease ran out writes nothing.

-- name: message_insert_elsewhere
-- A reply the agency made outside callbridge that the channel reported back (VK's
-- message_reply, an agency message in a chat): sent as it is stored.
INSERT INTO communication_messages (communication_id, direction, kind, text, at, status, source,
                                    provider_id, sent_at)
VALUES ($1, 'out', 'elsewhere', $2, $3, 'sent', $4, $5, $3);

-- name: message_is_our_reply
-- Is an agency message echoed by the channel one the outbox sent? (VK gives back our
-- random_id, which is the message's id, and the id messages.send answered.)
SELECT EXISTS (
    SELECT 1 FROM communication_messages
    WHERE communication_id = $1 AND direction = 'out' AND kind IN ('reply', 'auto_reply')
      AND (id::text = $2 OR provider_id = $3));

-- name: reply_target
-- What a reply to communication $1 needs: where it came from, how to answer, whom.
SELECT c.id, c.channel, c.source, c.reply_to, c.phone, c.contact_id, c.text, c.started_at,
       c.conversation_key, c.email, ct.name AS contact_name
FROM communications c LEFT JOIN contacts ct ON ct.id = c.contact_id
WHERE c.id = $1;

-- name: manager_name
SELECT name FROM managers WHERE extension = $1;

-- name: reply_enqueue
-- The reply, durable before the 202: a repeat of its Idempotency-Key inserts nothing.
INSERT INTO communication_messages (communication_id, direction, kind, text, status, extension, channel,
                                    source, address, contact_id, next_attempt_at, idempotency_key)
SELECT v.communication_id, 'out', v.kind, v.text, 'queued', v.extension, v.channel, v.source, v.address,
       v.contact_id, now(), v.idempotency_key
FROM jsonb_to_record($1::jsonb) AS v (
    communication_id bigint, kind text, text text, extension text, channel text, source text,
    address jsonb, contact_id bigint, idempotency_key text)
ON CONFLICT (communication_id, idempotency_key) DO NOTHING
RETURNING id, status;

-- name: reply_by_key
SELECT id, status FROM communication_messages WHERE communication_id = $1 AND idempotency_key = $2;

-- name: auto_reply_sent_since
-- Was contact $1 (or, without a contact, communication $2) sent an auto-reply in the last $3
-- seconds? By the communications' contact, so that a merged contact's count as the survivor's.
SELECT EXISTS (
    SELECT 1 FROM communications c
    JOIN communication_messages m ON m.communication_id = c.id
    WHERE (c.contact_id = $1 OR ($1::bigint IS NULL AND c.id = $2))
      AND m.kind = 'auto_reply' AND m.at > now() - make_interval(secs => $3));

-- name: replies_claim
-- Up to $1 due replies for this sender: no other sender can take them (SKIP LOCKED; once
-- committed, next_attempt_at is the lease's end, $2 seconds on). A row still in flight
-- was held by a sender that never finished (a killed daemon): it may have been delivered.
WITH due AS (
    SELECT id, in_flight_since IS NOT NULL AS was_in_flight
    FROM communication_messages
    WHERE status = 'queued' AND next_attempt_at <= now()
    ORDER BY next_attempt_at, id
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
UPDATE communication_messages m
SET attempts = m.attempts + 1, in_flight_since = now(),
    next_attempt_at = now() + make_interval(secs => $2),
    maybe_delivered = m.maybe_delivered OR due.was_in_flight
FROM due
WHERE m.id = due.id
RETURNING m.id, m.communication_id, m.kind, m.text, m.channel, m.source, m.address, m.attempts,
          m.maybe_delivered;

-- name: reply_sent
-- Delivered: the message is sent, joins the transcript (up to $5 characters) and
-- answers the inquiry (replied_at, the first answer, and last_replied_at, the latest:
-- the inbox's contract), in one statement. An auto-reply answers nobody's question:
-- it leaves both (and the response clock) alone.
WITH m AS (
    UPDATE communication_messages
    SET status = 'sent', sent_at = now(), provider_id = $3, error = NULL, in_flight_since = NULL,
        next_attempt_at = NULL, maybe_delivered = false
    WHERE id = $1 AND status = 'queued' AND attempts = $2
    RETURNING communication_id, sent_at, text, kind
), c AS (
    UPDATE communications c
    SET replied_at = CASE WHEN m.kind = 'auto_reply' THEN c.replied_at
                          ELSE COALESCE(c.replied_at, m.sent_at) END,
        last_replied_at = CASE WHEN m.kind = 'auto_reply' THEN c.last_replied_at
                               ELSE GREATEST(c.last_replied_at, m.sent_at) END,
        text = CASE
            WHEN $4::boolean IS NOT TRUE THEN c.text
            WHEN c.text IS NULL OR c.text = '' THEN left(m.text, $5)
            WHEN length(c.text) >= $5 THEN c.text
            ELSE left(c.text || E'\n' || m.text, $5) END,
        updated_at = now()
    FROM m
    WHERE c.id = m.communication_id
    RETURNING c.id
)
SELECT count(*) FROM m;

-- name: reply_retry
-- Not delivered this time: again after $3 seconds, unless that is past $6 seconds from
-- when it was queued (then failed, with the last reason).
UPDATE communication_messages
SET status = CASE WHEN now() + make_interval(secs => $3) > at + make_interval(secs => $6)
                  THEN 'failed' ELSE 'queued' END,
    next_attempt_at = CASE WHEN now() + make_interval(secs => $3) > at + make_interval(secs => $6)
                           THEN NULL ELSE now() + make_interval(secs => $3) END,
    error = CASE WHEN now() + make_interval(secs => $3) > at + make_interval(secs => $6)
                 THEN 'не доставлено за ' || CASE WHEN $6 >= 3600 THEN trim_scale(round(($6 / 3600.0)::numeric, 1)) || ' ч'
                                                  ELSE round($6::numeric) || ' с' END || ': ' || $4
                 ELSE $4 END,
    in_flight_since = NULL,
    maybe_delivered = $5
WHERE id = $1 AND status = 'queued' AND attempts = $2
RETURNING status;

-- name: reply_failed
-- Refused for good by the provider: failed, with its reason.
UPDATE communication_messages
SET status = 'failed', error = $3, in_flight_since = NULL, next_attempt_at = NULL
WHERE id = $1 AND status = 'queued' AND attempts = $2;

-- name: conversation_messages
-- The conversation in the order callbridge learnt of it, at most $2 messages (the latest).
SELECT * FROM (
    SELECT id, direction, kind, text, at, status, error, extension, sent_at
    FROM communication_messages
    WHERE communication_id = $1
    ORDER BY id DESC
    LIMIT $2
) latest
ORDER BY id;

-- name: send_pace_reserve
-- The next slot of a paced provider ($1: '<kind>:<source>'), shared by every daemon (GCRA,
-- as reserve_route_slot): $2 seconds between requests at the provider's rate, $3 the burst
-- tolerance in seconds, $4 the longest wait the sender accepts. No row: the slot is further
-- off than that and is not taken (the reply is tried again later); else wait_s is how long
-- until it starts (0: now).
INSERT INTO send_pace AS p (key, tat)
VALUES ($1, clock_timestamp() + make_interval(secs => $2))
ON CONFLICT (key) DO UPDATE
SET tat = greatest(p.tat, clock_timestamp()) + make_interval(secs => $2)
WHERE greatest(p.tat, clock_timestamp()) - make_interval(secs => $3) <= clock_timestamp() + make_interval(secs => $4)
RETURNING greatest(0, extract(epoch FROM p.tat - make_interval(secs => $2 + $3) - clock_timestamp()))::float8 AS wait_s;
