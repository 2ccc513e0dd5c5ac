-- Named queries of the contact's score, preferred channel and first contact
-- (daemon/contacts/score.py; docs/LEADS.md, «Score»). Loaded once by daemon/store/queries.py.

-- name: scores_refresh
-- One statement for a batch of contacts $1 as of $2: the score (0..100) and its
-- reasons, the preferred channel (unless set by hand) and the first contact
-- (the earliest of what is stored for the contact, for the contacts merged into it,
-- and its first communication: never a later one), into contact_profiles. $3 the
-- funnel's stages, $4 the tag «постоянный турист», $5 «холодный». Only a contact
-- whose values change is written. Each input is read by its contact index (trips_contact_idx,
-- communications_contact_idx, leads_one_open_per_contact, contact_identifiers_contact_idx,
-- contacts_merged_into_idx).
WITH ids AS MATERIALIZED (
    SELECT c.id, c.tags, c.created_at, c.ad_source
    FROM contacts c WHERE c.id = ANY ($1::bigint[]) AND c.merged_into IS NULL AND c.removed_at IS NULL
), paid AS (
    SELECT t.contact_id, count(*) AS n, COALESCE(sum(t.amount), 0) AS revenue
    FROM trips t
    WHERE t.contact_id = ANY ($1::bigint[]) AND t.status = 'paid'
      AND t.starts_on >= ($2::timestamptz - interval '24 months')::date
    GROUP BY t.contact_id
), comms AS (
    SELECT m.contact_id,
           max(m.started_at) FILTER (WHERE m.direction = 'inbound') AS last_inquiry,
           count(*) FILTER (WHERE m.direction = 'inbound'
                              AND m.started_at >= $2::timestamptz - interval '90 days') AS inquiries,
           count(*) FILTER (WHERE (m.status = 'answered' OR m.replied_at IS NOT NULL)
                              AND m.started_at >= $2::timestamptz - interval '90 days') AS answered
    FROM communications m WHERE m.contact_id = ANY ($1::bigint[])
    GROUP BY m.contact_id
), preferred AS (
    SELECT DISTINCT ON (x.contact_id) x.contact_id, x.channel
    FROM (SELECT m.contact_id, m.channel, count(*) AS n, max(m.started_at) AS last
          FROM communications m
          WHERE m.contact_id = ANY ($1::bigint[]) AND m.started_at >= $2::timestamptz - interval '180 days'
            AND (m.direction = 'inbound' OR (m.direction = 'outbound' AND m.status = 'answered'))
          GROUP BY m.contact_id, m.channel) AS x
    ORDER BY x.contact_id, x.n DESC, x.last DESC
), firsts AS (
    -- Candidates for the first contact: the stored one, the merged contacts' stored ones, the first communication.
    SELECT DISTINCT ON (f.contact_id) f.contact_id, f.at, f.channel, f.ad_source
    FROM (SELECT p.contact_id, p.first_seen_at AS at, p.first_channel AS channel,
                 p.first_ad_source AS ad_source, 0 AS rank
          FROM contact_profiles p WHERE p.contact_id = ANY ($1::bigint[]) AND p.first_seen_at IS NOT NULL
          UNION ALL
          SELECT c.merged_into, p.first_seen_at, p.first_channel, p.first_ad_source, 1
          FROM contacts c JOIN contact_profiles p ON p.contact_id = c.id
          WHERE c.merged_into = ANY ($1::bigint[]) AND p.first_seen_at IS NOT NULL
          UNION ALL
          SELECT m.contact_id, m.started_at, m.channel, m.ad_source, 2
          FROM communications m WHERE m.contact_id = ANY ($1::bigint[]) AND m.started_at IS NOT NULL
          UNION ALL
          -- Known before any communication (imported): the base itself is where he came from.
          SELECT i.id, i.created_at, 'import', i.ad_source, 3 FROM ids i
          WHERE NOT EXISTS (SELECT 1 FROM communications m WHERE m.contact_id = i.id)) AS f
    ORDER BY f.contact_id, f.at, f.rank
), open_lead AS (
    SELECT l.contact_id, l.stage FROM leads l WHERE l.contact_id = ANY ($1::bigint[]) AND l.status = 'open'
), dnc AS (
    SELECT DISTINCT d.contact_id FROM contact_identifiers d
    WHERE d.contact_id = ANY ($1::bigint[]) AND d.do_not_call_since IS NOT NULL
), scored AS (
    SELECT i.id, d.contact_id IS NOT NULL AS dnc, parts.reasons, parts.total
    FROM ids i
    LEFT JOIN paid p ON p.contact_id = i.id
    LEFT JOIN comms m ON m.contact_id = i.id
    LEFT JOIN open_lead l ON l.contact_id = i.id
    LEFT JOIN dnc d ON d.contact_id = i.id
    CROSS JOIN LATERAL (
        SELECT COALESCE(jsonb_agg(jsonb_build_object('reason', v.reason, 'points', v.points) ORDER BY v.ord)
                        FILTER (WHERE v.points <> 0), '[]'::jsonb) AS reasons,
               COALESCE(sum(v.points), 0)::int AS total
        FROM (VALUES
            (1, 'Оплаченных поездок за 24 мес.: ' || COALESCE(p.n, 0), least(30, 15 * COALESCE(p.n, 0))::int),
            (2, 'Выручка за 24 мес.: ' || COALESCE(p.revenue, 0)::bigint || ' ₽',
             least(20, floor(COALESCE(p.revenue, 0) / 10000))::int),
            (3, 'Последнее обращение ' || CASE
                    WHEN m.last_inquiry >= $2::timestamptz - interval '30 days' THEN 'за 30 дней'
                    WHEN m.last_inquiry >= $2::timestamptz - interval '90 days' THEN 'за 90 дней'
                    ELSE 'за год' END,
             CASE WHEN m.last_inquiry >= $2::timestamptz - interval '30 days' THEN 15
                  WHEN m.last_inquiry >= $2::timestamptz - interval '90 days' THEN 10
                  WHEN m.last_inquiry >= $2::timestamptz - interval '365 days' THEN 5 ELSE 0 END),
            (4, 'Обращений за 90 дней: ' || COALESCE(m.inquiries, 0), least(9, 3 * COALESCE(m.inquiries, 0))::int),
            (5, 'Разговоров за 90 дней: ' || COALESCE(m.answered, 0), least(9, 3 * COALESCE(m.answered, 0))::int),
            (6, 'Открытый лид: ' || COALESCE(l.stage, ($3::text[])[1]),
             CASE WHEN l.contact_id IS NULL THEN 0
                  ELSE 5 + round(10.0 * (COALESCE(array_position($3::text[], l.stage), 1) - 1)
                                 / greatest(cardinality($3::text[]) - 1, 1))::int END),
            (7, 'Тег «' || $4 || '»', CASE WHEN $4 = ANY (i.tags) THEN 10 ELSE 0 END),
            (8, 'Тег «' || $5 || '»', CASE WHEN $5 = ANY (i.tags) THEN -15 ELSE 0 END)
        ) AS v (ord, reason, points)
    ) AS parts
), result AS (
    SELECT s.id,
           CASE WHEN s.dnc THEN 0 ELSE greatest(0, least(100, s.total)) END::smallint AS score,
           CASE WHEN s.dnc THEN '[{"reason": "Не звонить", "points": 0}]'::jsonb ELSE s.reasons END AS reasons,
           pr.channel AS preferred, f.at AS first_at, f.channel AS first_channel, f.ad_source AS first_ad_source
    FROM scored s
    LEFT JOIN preferred pr ON pr.contact_id = s.id
    LEFT JOIN firsts f ON f.contact_id = s.id
)
INSERT INTO contact_profiles AS p (contact_id, score, score_reasons, score_at, preferred_channel,
                                   first_seen_at, first_channel, first_ad_source)
SELECT r.id, r.score, r.reasons, $2, r.preferred, r.first_at, r.first_channel, r.first_ad_source
FROM result r
ORDER BY r.id
ON CONFLICT (contact_id) DO UPDATE SET
    score = EXCLUDED.score,
    score_reasons = EXCLUDED.score_reasons,
    score_at = EXCLUDED.score_at,
    preferred_channel = CASE WHEN p.preferred_channel_by_hand THEN p.preferred_channel
                             ELSE COALESCE(EXCLUDED.preferred_channel, p.preferred_channel) END,
    first_seen_at = EXCLUDED.first_seen_at,
    first_channel = EXCLUDED.first_channel,
    first_ad_source = EXCLUDED.first_ad_source
WHERE (p.score, p.score_reasons, p.first_seen_at, p.first_channel, p.first_ad_source)
      IS DISTINCT FROM
      (EXCLUDED.score, EXCLUDED.score_reasons, EXCLUDED.first_seen_at, EXCLUDED.first_channel,
       EXCLUDED.first_ad_source)
   OR (NOT p.preferred_channel_by_hand AND EXCLUDED.preferred_channel IS NOT NULL
       AND EXCLUDED.preferred_channel IS DISTINCT FROM p.preferred_channel)
RETURNING p.contact_id;

-- name: scores_all_ids
-- Every active contact, in id order from $1 on, $2 at a time (the nightly refresh's batches).
SELECT id FROM contacts WHERE id > $1 AND merged_into IS NULL AND removed_at IS NULL ORDER BY id LIMIT $2;

-- name: scores_take_dirty
-- Up to $1 marks of contacts whose inputs changed, taken (deleted) by one daemon:
-- another daemon's flush skips the rows this one holds.
WITH taken AS (
    SELECT ctid FROM contact_score_dirty LIMIT $1 FOR UPDATE SKIP LOCKED
)
DELETE FROM contact_score_dirty d USING taken WHERE d.ctid = taken.ctid
RETURNING d.contact_id;

-- name: contact_preferred_channel_set
-- Set by hand ($2 a channel) or given back to the computation ($2 NULL) for contact
-- $1's survivor if it was merged. No row: no such contact.
INSERT INTO contact_profiles AS p (contact_id, preferred_channel, preferred_channel_by_hand)
SELECT c.id, $2::text, $2::text IS NOT NULL FROM contacts c
WHERE c.id = contact_survivor($1) AND c.removed_at IS NULL
ON CONFLICT (contact_id) DO UPDATE SET preferred_channel = COALESCE($2::text, p.preferred_channel),
                                       preferred_channel_by_hand = $2::text IS NOT NULL
RETURNING contact_id AS id, preferred_channel, preferred_channel_by_hand;

-- name: contact_preferred_channel_get
SELECT contact_id AS id, preferred_channel, preferred_channel_by_hand FROM contact_profiles WHERE contact_id = $1;
