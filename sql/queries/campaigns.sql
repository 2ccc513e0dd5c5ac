-- Named queries of the reactivation campaigns (daemon/leads/campaigns.py). Loaded once by daemon/store/queries.py.

-- name: campaign_insert
INSERT INTO campaigns (name, segment, extensions, claim_days) VALUES ($1, $2::jsonb, $3, $4)
RETURNING id, created_at;

-- name: campaign_segment_insert
-- The segment's contacts, frozen into campaign $1: $2 the kind (lost_clients: the
-- contacts $3; cold and tag: those tagged $4; no_trips: never a paid trip), less
-- merged and removed contacts, do-not-call, contacts with an open lead and those
-- with neither a phone nor an e-mail. Each with its score now (the order of `next`).
-- Contacts with ids in ($5, $6] only: one statement per slice of the base (the
-- primary key's range), so that none runs into the statement timeout.
INSERT INTO campaign_contacts (campaign_id, contact_id, score, has_phone)
SELECT $1, c.id, COALESCE((SELECT p.score FROM contact_profiles p WHERE p.contact_id = c.id), 0),
       EXISTS (SELECT 1 FROM contact_identifiers p WHERE p.contact_id = c.id AND p.kind = 'phone')
FROM contacts c
WHERE c.id > $5 AND c.id <= $6 AND c.merged_into IS NULL AND c.removed_at IS NULL
  AND CASE $2::text
        WHEN 'lost_clients' THEN c.id = ANY ($3::bigint[])
        WHEN 'no_trips' THEN NOT EXISTS (SELECT 1 FROM trips t WHERE t.contact_id = c.id AND t.status = 'paid')
        ELSE $4::text = ANY (c.tags) END
  AND NOT EXISTS (SELECT 1 FROM contact_identifiers d WHERE d.contact_id = c.id AND d.do_not_call_since IS NOT NULL)
  AND NOT EXISTS (SELECT 1 FROM leads l WHERE l.contact_id = c.id AND l.status = 'open')
  AND EXISTS (SELECT 1 FROM contact_identifiers i WHERE i.contact_id = c.id AND i.kind IN ('phone', 'email'))
RETURNING has_phone;

-- name: contacts_max_id
SELECT COALESCE(max(id), 0) FROM contacts;

-- name: campaign_get
SELECT id, name, segment::text AS segment, extensions, claim_days, created_at FROM campaigns WHERE id = $1;

-- name: campaigns_list
-- The campaigns extension $1 calls for (every campaign when $1 is NULL), the newest first.
SELECT id, name, segment::text AS segment, extensions, claim_days, created_at FROM campaigns
WHERE $1::text IS NULL OR $1 = ANY (extensions)
ORDER BY id DESC LIMIT 200;

-- name: campaign_next
-- `next` in one round trip: campaign_next_v1 claims for extension $2 the best free
-- contact of campaign $1 as of $3 (its row FOR UPDATE SKIP LOCKED, the claim by
-- contact_claims' key), then the same statement reads his card (campaign_contact_cards,
-- migration 0037).
WITH n AS MATERIALIZED (SELECT * FROM campaign_next_v1($1, $2, $3))
SELECT n.status, k.*
FROM n LEFT JOIN campaign_contact_cards k ON k.contact_id = n.contact_id;

-- name: campaign_contact_card
-- What a caller needs in one query (campaign_contact_cards, migration 0037).
SELECT * FROM campaign_contact_cards WHERE contact_id = $1;

-- name: campaign_contact_outcome
-- The manager's word on a contact of campaign $1 (the latest word wins); claimed
-- by the manager if nobody had claimed it. No row: the contact is not in the campaign.
UPDATE campaign_contacts SET outcome = $4, reason = $5, outcome_at = $6,
                             lead_id = COALESCE($7, lead_id),
                             claimed_by = COALESCE(claimed_by, $3), claimed_at = COALESCE(claimed_at, $6)
WHERE campaign_id = $1 AND contact_id = $2
RETURNING contact_id, outcome, reason, lead_id;

-- name: campaign_has_contact
SELECT 1 FROM campaign_contacts WHERE campaign_id = $1 AND contact_id = $2;

-- name: campaign_open_lead
-- The pre-booking («Предзаявка»): the contact's open lead with ad source $2 (joined if one is open).
SELECT callbridge_open_lead_v1($1, $2, NULL, NULL, $3, $4) AS lead_id;

-- name: campaign_progress
-- Campaign $1's figures: reached is a claimed contact who answered a call after the
-- claim (any call, from the screen or the PBX: its communications) or gave an outcome
-- other than unreachable. Revenue: the paid trips of the leads it opened.
WITH cc AS (
    SELECT * FROM campaign_contacts WHERE campaign_id = $1
)
SELECT count(*) FILTER (WHERE has_phone) AS total,
       count(*) FILTER (WHERE claimed_at IS NOT NULL) AS claimed,
       count(*) FILTER (WHERE outcome IN ('interested', 'refused', 'do_not_call')
                          OR (claimed_at IS NOT NULL AND EXISTS (
                                SELECT 1 FROM communications m WHERE m.contact_id = cc.contact_id
                                AND m.status = 'answered' AND m.started_at >= cc.claimed_at))) AS reached,
       count(*) FILTER (WHERE outcome = 'interested') AS interested,
       count(*) FILTER (WHERE outcome = 'unreachable') AS unreachable,
       count(*) FILTER (WHERE outcome = 'do_not_call') AS do_not_call,
       COALESCE((SELECT jsonb_object_agg(reason, n) FROM (
           SELECT reason, count(*) AS n FROM cc WHERE outcome = 'refused' GROUP BY reason) r), '{}')::text AS refused,
       count(DISTINCT lead_id) AS leads_opened,
       (SELECT count(*) FROM leads l WHERE l.id IN (SELECT lead_id FROM cc) AND l.status = 'won') AS leads_won,
       (SELECT COALESCE(sum(t.amount), 0) FROM trips t
        WHERE t.lead_id IN (SELECT lead_id FROM cc) AND t.status = 'paid') AS revenue
FROM cc;

-- name: campaign_mailing
-- The segment's contacts with an e-mail and no phone (a mailing list, not calls), not do-not-call.
SELECT c.id AS contact_id, c.name,
       (SELECT i.value FROM contact_identifiers i WHERE i.contact_id = c.id AND i.kind = 'email'
        ORDER BY i.created_at, i.value LIMIT 1) AS email
FROM campaign_contacts cc JOIN contacts c ON c.id = cc.contact_id
WHERE cc.campaign_id = $1 AND NOT cc.has_phone
  AND NOT EXISTS (SELECT 1 FROM contact_identifiers p WHERE p.contact_id = c.id AND p.kind = 'phone')
  AND EXISTS (SELECT 1 FROM contact_identifiers e WHERE e.contact_id = c.id AND e.kind = 'email')
  AND NOT EXISTS (SELECT 1 FROM contact_identifiers d WHERE d.contact_id = c.id AND d.do_not_call_since IS NOT NULL)
  AND c.merged_into IS NULL AND c.removed_at IS NULL
ORDER BY c.id;

-- name: active_managers_by_extension
SELECT extension FROM managers WHERE extension = ANY ($1::text[]) AND active;
