-- A contact's card for a caller of a campaign, as a view: campaign_next (the claim and
-- the card in one round trip) and campaign_contact_card (one card) read the same one,
-- where each kept its own copy of the select. Phones, e-mails, score, tags, the
-- responsible manager, the preferred channel, the last 20 trips (trips_contact_idx) and
-- the last 5 notes (communications_contact_idx); the scalar subqueries run only for the
-- rows a query keeps.
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
