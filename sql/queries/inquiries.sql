-- Named queries of the inquiry pipeline (daemon/inquiries). Loaded once by daemon/store/queries.py.
-- Long statements take one jsonb argument read by jsonb_to_record: named parameters.

-- name: inquiry_who
-- What filing a message needs to know before it writes, in one round trip (it used to
-- take four): who holds each of the inquiry's identifiers ($1 kinds, $2 values, in
-- pairs), which of its phones are the agency's own lines, and the conversation's contact.
-- The conversation is either opened here, for a chat's message whose identifier locks
-- the batch already holds ($3 source, $4 conversation key: the one still going on at $5,
-- within $6 seconds of its messages, locked for this message; the row of role 'thread',
-- none when it is over), or given ($7: its contact; NULL for none). One row per finding,
-- told apart by ``role``; has_name and has_ad_source: whether filling the contact in
-- could change anything.
WITH conv AS MATERIALIZED (
    SELECT id, entry_id, contact_id, lead_id
    FROM communications
    WHERE $3::text IS NOT NULL AND source = $3 AND conversation_key = $4
      AND last_message_at >= $5::timestamptz - make_interval(secs => $6)
      AND started_at <= $5::timestamptz + make_interval(secs => $6)
    ORDER BY last_message_at DESC
    LIMIT 1
    FOR UPDATE
)
SELECT 'thread' AS role, NULL AS kind, NULL AS value, conv.contact_id, conv.entry_id AS created_by_entry_id,
       NULL::bigint AS merged_into, NULL::boolean AS messenger_only, NULL::boolean AS has_name,
       NULL::boolean AS has_ad_source, conv.id AS thread_id, conv.lead_id AS thread_lead_id
FROM conv
UNION ALL
SELECT 'holder', i.kind, i.value, c.id, c.created_by_entry_id, c.merged_into,
       NOT EXISTS (SELECT 1 FROM contact_identifiers o
                   WHERE o.contact_id = c.id AND o.kind IN ('phone', 'email')),
       c.name IS NOT NULL, c.ad_source IS NOT NULL, NULL, NULL
FROM unnest($1::text[], $2::text[]) AS w (kind, value)
JOIN contact_identifiers i ON i.kind = w.kind AND i.value = w.value
JOIN contacts c ON c.id = i.contact_id
WHERE c.removed_at IS NULL AND c.merged_into IS NULL
UNION ALL
SELECT 'line', 'phone', l.line_key, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM lines l
WHERE l.line_key IN (SELECT w.value FROM unnest($1::text[], $2::text[]) AS w (kind, value) WHERE w.kind = 'phone')
UNION ALL
SELECT 'conversation', NULL, NULL, c.id, c.created_by_entry_id, c.merged_into,
       NOT EXISTS (SELECT 1 FROM contact_identifiers o
                   WHERE o.contact_id = c.id AND o.kind IN ('phone', 'email')),
       c.name IS NOT NULL, c.ad_source IS NOT NULL, NULL, NULL
FROM contacts c WHERE c.id = COALESCE($7::bigint, (SELECT contact_id FROM conv));

-- name: inquiry_open_conversation
-- The communication of this chat that is still going on at $3 (within $4 seconds
-- of its messages), locked for this message. Uses communications_conversation_idx.
SELECT id, entry_id, contact_id, lead_id
FROM communications
WHERE source = $1 AND conversation_key = $2
  AND last_message_at >= $3::timestamptz - make_interval(secs => $4)
  AND started_at <= $3::timestamptz + make_interval(secs => $4)
ORDER BY last_message_at DESC
LIMIT 1
FOR UPDATE;

-- name: inquiry_create_contact_with
-- A new contact ($1 name, $2 ad source, $3 the entry that made it) and its identifiers
-- ($4 kinds, $5 values, in pairs) in one statement. Returns the new contact, and the holders of any identifier another
-- contact held already (none under the identifiers' locks; never merged: proposed).
WITH made AS (
    INSERT INTO contacts (name, ad_source, created_by_entry_id)
    VALUES ($1, $2, $3)
    RETURNING id
), w AS (
    SELECT DISTINCT kind, value FROM unnest($4::text[], $5::text[]) AS w (kind, value)
), put AS (
    INSERT INTO contact_identifiers (kind, value, contact_id)
    SELECT w.kind, w.value, made.id FROM w, made
    ON CONFLICT (kind, value) DO NOTHING
    RETURNING kind, value
)
SELECT made.id,
       ARRAY(SELECT i.contact_id FROM w JOIN contact_identifiers i ON i.kind = w.kind AND i.value = w.value
             WHERE NOT EXISTS (SELECT 1 FROM put p WHERE p.kind = w.kind AND p.value = w.value)) AS owners
FROM made;

-- name: inquiry_add_identifiers
-- The identifiers ($1 kinds, $2 values, in pairs) nobody held, given to the contact $3
-- in one statement; returns the holders of those another contact held after all.
WITH w AS (
    SELECT DISTINCT kind, value FROM unnest($1::text[], $2::text[]) AS w (kind, value)
), put AS (
    INSERT INTO contact_identifiers (kind, value, contact_id)
    SELECT kind, value, $3::bigint FROM w
    ON CONFLICT (kind, value) DO NOTHING
    RETURNING kind, value
)
SELECT i.contact_id FROM w JOIN contact_identifiers i ON i.kind = w.kind AND i.value = w.value
WHERE NOT EXISTS (SELECT 1 FROM put p WHERE p.kind = w.kind AND p.value = w.value);

-- name: inquiry_fill_contact
-- An inquiry names a contact that had no name, or no ad source yet.
UPDATE contacts
SET name = COALESCE(name, $2), ad_source = COALESCE(ad_source, $3), updated_at = now()
WHERE id = $1 AND ((name IS NULL AND $2::text IS NOT NULL) OR (ad_source IS NULL AND $3::text IS NOT NULL));

-- name: inquiry_duplicate_hint
-- Two contacts that look like one person; never a pair marked as not duplicates.
INSERT INTO contact_duplicate_hints (contact_low, contact_high, reason, evidence)
SELECT least($1::bigint, $2::bigint), greatest($1::bigint, $2::bigint), 'identifier', $3::jsonb
WHERE NOT EXISTS (SELECT 1 FROM contact_not_duplicates n
                  WHERE n.contact_low = least($1::bigint, $2::bigint)
                    AND n.contact_high = greatest($1::bigint, $2::bigint))
ON CONFLICT (contact_low, contact_high) DO NOTHING;

-- name: inquiry_insert_communication
-- A new inquiry, or the first message of a conversation. finished: nothing is
-- derived for it from PBX events (and it stays out of communications_unfinished_idx).
-- inbound: the customer's message (not the agency's): last_inbound_at, for the inbox.
-- $2 (or NULL): the customer's message itself, into the conversation's messages in the
-- same statement (text, at, source, contact_id, provider_id).
-- $3 (or NULL): lead_stale_days, to join or open the contact's lead in the same statement
-- (callbridge_open_lead_v1 with the communication's own contact, ad source, entry and
-- time), which the communication is then on; $4 (or NULL): what the message says the
-- tourist wants, laid over that lead's wish with this communication's id
-- (lead_wish_refine_v1). One round trip for what took three; the lead's CTE runs before
-- the insert reads it.
WITH lead AS MATERIALIZED (
    SELECT callbridge_open_lead_v1(v.contact_id, v.ad_source, NULL, v.entry_id, v.at, $3::int) AS id
    FROM jsonb_to_record($1::jsonb) AS v (contact_id bigint, ad_source text, entry_id text, at timestamptz)
    WHERE $3::int IS NOT NULL AND v.contact_id IS NOT NULL
), made AS (
    INSERT INTO communications (
        entry_id, channel, direction, status, phone, email, contact_id, lead_id, ad_source,
        started_at, source, external_id, conversation_key, text, utm, page_url,
        message_count, last_message_at, replied_at, finished, reply_to, last_inbound_at, last_replied_at
    )
    SELECT v.entry_id, v.channel, 'inbound', 'received', v.phone, v.email, v.contact_id,
           COALESCE(v.lead_id, (SELECT id FROM lead)),
           v.ad_source, v.at, v.source, v.external_id, v.conversation_key, v.text, v.utm, v.page_url,
           1, v.at, v.replied_at, true, v.reply_to, CASE WHEN v.inbound THEN v.at END, v.replied_at
    FROM jsonb_to_record($1::jsonb) AS v (
        entry_id text, channel text, phone text, email text, contact_id bigint, lead_id bigint,
        ad_source text, at timestamptz, source text, external_id text, conversation_key text,
        text text, utm jsonb, page_url text, replied_at timestamptz, reply_to jsonb, inbound boolean)
    RETURNING id, lead_id
), said AS (
    INSERT INTO communication_messages (communication_id, direction, kind, text, at, status, source,
                                        contact_id, provider_id)
    SELECT made.id, 'in', 'message', m.text, m.at, 'received', m.source, m.contact_id, m.provider_id
    FROM made, jsonb_to_record($2::jsonb) AS m (text text, at timestamptz, source text, contact_id bigint,
                                                 provider_id text)
    WHERE $2::jsonb IS NOT NULL
), wished AS (
    SELECT lead_wish_refine_v1(made.lead_id, $4::jsonb, made.id) FROM made
    WHERE $4::jsonb IS NOT NULL AND made.lead_id IS NOT NULL
)
-- (wished is read here so that it runs: a CTE that only SELECTs runs when it is read)
SELECT made.id, made.lead_id, (SELECT count(*) FROM wished) AS wished FROM made;

-- name: inquiry_append_message
-- One more message of an open conversation: the transcript grows by the new
-- text only (never re-derived from all messages), up to $2 characters; what the
-- conversation did not know yet (contact, lead, phone, e-mail, UTM, page) is filled in;
-- the way to reply is the latest message's that gave one. Who wrote last (the
-- customer, inbound; the agency, replied_at) is what the inbox's trigger reads: the
-- customer writing after the answer puts the conversation back in the queue. $3 (or NULL):
-- the customer's message itself, into the conversation's messages in the same statement.
-- $4 and $5 (or NULL): the lead and the wish, as inquiry_insert_communication's $3 and $4
-- (the lead opened by the conversation's own entry).
WITH lead AS MATERIALIZED (
    SELECT callbridge_open_lead_v1(v.contact_id, v.ad_source, NULL, c.entry_id, v.at, $4::int) AS id
    FROM jsonb_to_record($1::jsonb) AS v (id bigint, contact_id bigint, ad_source text, at timestamptz)
    JOIN communications c ON c.id = v.id
    WHERE $4::int IS NOT NULL AND v.contact_id IS NOT NULL
), grown AS (
    UPDATE communications c
    SET text = CASE
            WHEN v.text IS NULL OR v.text = '' THEN c.text
            WHEN c.text IS NULL OR c.text = '' THEN left(v.text, $2)
            WHEN length(c.text) >= $2 THEN c.text
            ELSE left(c.text || E'\n' || v.text, $2) END,
        contact_id = COALESCE(v.contact_id, c.contact_id),
        lead_id = COALESCE(v.lead_id, (SELECT id FROM lead), c.lead_id),
        phone = COALESCE(c.phone, v.phone),
        email = COALESCE(c.email, v.email),
        ad_source = COALESCE(c.ad_source, v.ad_source),
        utm = COALESCE(c.utm, v.utm),
        page_url = COALESCE(c.page_url, v.page_url),
        message_count = c.message_count + 1,
        started_at = LEAST(c.started_at, v.at),
        last_message_at = GREATEST(c.last_message_at, v.at),
        replied_at = LEAST(c.replied_at, v.replied_at),
        last_replied_at = GREATEST(c.last_replied_at, v.replied_at),
        last_inbound_at = CASE WHEN v.inbound THEN GREATEST(c.last_inbound_at, v.at) ELSE c.last_inbound_at END,
        reply_to = COALESCE(v.reply_to, c.reply_to),
        updated_at = now()
    FROM jsonb_to_record($1::jsonb) AS v (
        id bigint, contact_id bigint, lead_id bigint, phone text, email text, ad_source text,
        at timestamptz, text text, utm jsonb, page_url text, replied_at timestamptz, reply_to jsonb,
        inbound boolean)
    WHERE c.id = v.id
    RETURNING c.id, c.lead_id
), said AS (
    INSERT INTO communication_messages (communication_id, direction, kind, text, at, status, source,
                                        contact_id, provider_id)
    SELECT grown.id, 'in', 'message', m.text, m.at, 'received', m.source, m.contact_id, m.provider_id
    FROM grown, jsonb_to_record($3::jsonb) AS m (text text, at timestamptz, source text, contact_id bigint,
                                                 provider_id text)
    WHERE $3::jsonb IS NOT NULL
), wished AS (
    SELECT lead_wish_refine_v1(grown.lead_id, $5::jsonb, grown.id) FROM grown
    WHERE $5::jsonb IS NOT NULL AND grown.lead_id IS NOT NULL
)
SELECT grown.id, grown.lead_id, (SELECT count(*) FROM wished) AS wished FROM grown;

-- name: inquiry_relink
-- After an absorbing merge: the conversation on the survivor and its open lead
-- (a no-op when the merge already put it there, so its journal stays exact).
UPDATE communications SET contact_id = $2, lead_id = $3, updated_at = now()
WHERE id = $1 AND (contact_id IS DISTINCT FROM $2 OR lead_id IS DISTINCT FROM $3);

-- name: inquiry_insert_referral
INSERT INTO contact_referrals (contact_id, referrer_id, communication_id)
VALUES ($1, $2, $3)
ON CONFLICT (contact_id, referrer_id) DO NOTHING;

-- name: inquiry_result
-- What POST /api/inquiries answers, read back from what the pipeline stored.
SELECT c.id AS communication_id, c.contact_id, c.lead_id,
       EXISTS (SELECT 1 FROM contacts ct WHERE ct.id = c.contact_id AND ct.created_by_entry_id = c.entry_id)
           AS new_contact,
       EXISTS (SELECT 1 FROM leads l WHERE l.id = c.lead_id AND l.opened_by_entry_id = c.entry_id) AS new_lead,
       c.contact_id IS NULL AS unreachable
FROM communications c
WHERE c.entry_id = $1;

-- name: contact_referrals
-- Whom contact $1 brought, also as a contact since merged into it; a brought
-- contact merged into another is shown as its survivor. Uses
-- contact_referrals_referrer_idx and contacts_merged_into_idx.
SELECT DISTINCT ON (b.id) b.id AS contact_id, b.name, r.communication_id, r.created_at,
       ARRAY(SELECT i.value FROM contact_identifiers i
             WHERE i.contact_id = b.id AND i.kind = 'phone' ORDER BY i.value) AS phones,
       ARRAY(SELECT i.value FROM contact_identifiers i
             WHERE i.contact_id = b.id AND i.kind = 'email' ORDER BY i.value) AS emails
FROM contact_referrals r
JOIN contacts ct ON ct.id = r.contact_id
JOIN contacts b ON b.id = COALESCE(ct.merged_into, ct.id)
WHERE r.referrer_id = $1
   OR r.referrer_id IN (SELECT m.id FROM contacts m WHERE m.merged_into = $1)
ORDER BY b.id, r.created_at;

-- name: contact_exists
SELECT EXISTS (SELECT 1 FROM contacts WHERE id = $1 AND removed_at IS NULL);
