-- Named queries of the e-mail channel (daemon/inquiries/mail_inbox.py).

-- name: insert_mail_inbox
-- The raw message under the inquiry's dedup key (source + Message-ID); a
-- message filed before (another run, a copy in a second folder) returns no row.
INSERT INTO inbox (dedup_key, source, path, raw, kind, event)
VALUES ($1, $2, $3, $4, 'inquiry', $5::jsonb)
ON CONFLICT (dedup_key) DO NOTHING
RETURNING id;
