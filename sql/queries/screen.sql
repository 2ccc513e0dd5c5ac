-- Named queries of the manager's screen (daemon/screen). Loaded once by daemon/store/queries.py.

-- name: screen_call
-- Everything a caller card shows about one call, by the communications'
-- entry_id key, then primary keys and leads_one_open_per_contact. quiet_s:
-- seconds since the call's newest PBX event was stored (inbox_entry_idx), on
-- the database's clock, which every daemon shares.
SELECT c.id, c.entry_id, c.direction, c.status, c.phone, c.phone_raw, c.contact_id,
       c.manager_extension, am.name AS manager_name, c.participants, c.line_number,
       c.ad_source, c.started_at, c.answered_at, c.ended_at, c.finished, c.talk_seconds,
       c.note, c.routed_to, c.route_result,
       ct.name AS contact_name, ct.tags, ct.ad_source AS contact_ad_source,
       ct.birthday AS contact_birthday, ct.note AS contact_note,
       cp.score, cp.score_reasons::text AS score_reasons, cp.preferred_channel,
       COALESCE(cp.preferred_channel_by_hand, false) AS preferred_channel_by_hand,
       cp.first_seen_at, cp.first_channel, cp.first_ad_source,
       rm.extension AS responsible_extension, rm.name AS responsible_name,
       ol.id AS open_lead_id, ol.opened_at AS open_lead_created_at,
       ol.ad_source AS open_lead_ad_source, ol.stage AS open_lead_stage,
       CASE WHEN c.channel = 'call'
            THEN (SELECT extract(epoch FROM clock_timestamp() - max(i.received_at))::float8
                    FROM inbox i WHERE i.entry_id = c.entry_id)
            -- An inquiry (form, chat) has no inbox rows by entry_id: its last change counts.
            ELSE extract(epoch FROM clock_timestamp() - c.updated_at)::float8 END AS quiet_s,
       c.channel, c.source, c.text, c.email, c.message_count
FROM communications c
LEFT JOIN managers am ON am.id = c.manager_id
LEFT JOIN contacts ct ON ct.id = c.contact_id
LEFT JOIN contact_profiles cp ON cp.contact_id = c.contact_id
LEFT JOIN managers rm ON rm.id = ct.responsible_id
LEFT JOIN leads ol ON ol.contact_id = c.contact_id AND ol.status = 'open'
WHERE c.entry_id = $1;

-- name: screen_call_legs
-- The call's leg events, to tell which extensions ring, talk or rang. Uses inbox_entry_idx.
SELECT event::text AS event
FROM inbox
WHERE entry_id = $1 AND kind = 'call_leg'
ORDER BY id;

-- name: screen_history_by_contact
-- The contact's latest communications but this one ($2). Uses communications_contact_idx.
SELECT c.id, c.entry_id, c.direction, c.status, c.manager_extension, m.name AS manager_name,
       c.started_at, c.talk_seconds, c.note
FROM communications c
LEFT JOIN managers m ON m.id = c.manager_id
WHERE c.contact_id = $1 AND c.entry_id <> $2
ORDER BY c.started_at DESC NULLS LAST, c.id DESC
LIMIT $3;

-- name: screen_history_by_phone
-- The same for a number that is nobody's contact (a supplier rung by a manager).
-- Uses communications_phone_idx.
SELECT c.id, c.entry_id, c.direction, c.status, c.manager_extension, m.name AS manager_name,
       c.started_at, c.talk_seconds, c.note
FROM communications c
LEFT JOIN managers m ON m.id = c.manager_id
WHERE c.phone = $1 AND c.entry_id <> $2
ORDER BY c.started_at DESC NULLS LAST, c.id DESC
LIMIT $3;

-- name: screen_live_entries
-- Calls not over yet that started after $1: what a manager who connects (or
-- whose daemon reconnected to PostgreSQL) may have missed. Uses
-- communications_started_idx; the bound keeps a call whose last events were
-- lost from ringing on the screen forever.
SELECT entry_id
FROM communications
WHERE started_at >= $1 AND ended_at IS NULL AND NOT finished
  AND direction IS DISTINCT FROM 'internal'
  AND channel = 'call'
ORDER BY started_at;

-- name: screen_manager
SELECT extension, name, active FROM managers WHERE extension = $1;

-- name: set_communication_note
-- «Примечание»: the one column of a communication that people write.
UPDATE communications SET note = $2, updated_at = now()
WHERE id = $1
RETURNING id, entry_id, note;

-- name: set_contact_name
-- A merged contact's id names its survivor (contact_survivor), as lookups do:
-- the name never lands on the hidden card.
UPDATE contacts SET name = $2, updated_at = now()
WHERE id = contact_survivor($1)
RETURNING id, name;
