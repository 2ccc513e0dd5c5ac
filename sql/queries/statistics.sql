-- Named queries of daemon/store/statistics.py: ANALYZE of the tables a bulk command wrote.
--
-- Autovacuum analyzes a table only after enough of it changed, and not at all where
-- it is off; until then the planner plans for the table as it was (empty, or a tenth
-- of its size), and the next reads walk whole indexes. Each bulk command analyzes
-- what it wrote as its last step. A table the role does not own is skipped with a
-- warning by PostgreSQL itself, never an error.

-- name: analyze_contacts_import
ANALYZE contacts, contact_identifiers, contact_invalid_identifiers, managers, contact_duplicate_hints,
        contact_duplicate_candidates;

-- name: analyze_contacts_import_rest
-- After contact_candidates_flush(), which analyzed contacts and contact_identifiers itself.
ANALYZE contact_invalid_identifiers, managers, contact_duplicate_hints, contact_duplicate_candidates;

-- name: analyze_trips_import
ANALYZE trips, contacts, contact_identifiers, leads;

-- name: analyze_tags_refresh
ANALYZE contacts, contact_computed_tags, contact_tag_removals;

-- name: analyze_leads_archive
ANALYZE leads;

-- name: analyze_contacts_purge
ANALYZE contacts, contact_identifiers, contact_invalid_identifiers;

-- name: stale_statistics
-- The daemon's own ANALYZE (daemon/store/statistics.py, keep_statistics): our tables whose rows
-- changed past autovacuum's analyze threshold since their last ANALYZE (the same rule:
-- threshold + scale factor x rows), where autovacuum will not do it: it is off, or it has
-- not analyzed the table for $1 seconds. Without statistics a table that grew from empty
-- is planned as empty: a contact's duplicate probe walked every contact once per contact
-- (seconds per new contact at two thousand).
SELECT s.relname::text AS relname, s.n_mod_since_analyze AS changed
FROM pg_stat_user_tables s
JOIN pg_class c ON c.oid = s.relid
WHERE s.schemaname = current_schema()
  AND s.n_mod_since_analyze > current_setting('autovacuum_analyze_threshold')::bigint
      + current_setting('autovacuum_analyze_scale_factor')::float8 * greatest(c.reltuples, 0)
  AND (current_setting('autovacuum') = 'off'
       OR coalesce(greatest(s.last_analyze, s.last_autoanalyze), '-infinity') < now() - make_interval(secs => $1))
ORDER BY s.n_mod_since_analyze DESC;

-- name: queues_to_vacuum
-- Our work queues (rows noted, then deleted by a daemon's task a moment later) whose dead rows
-- passed autovacuum's vacuum threshold (threshold + scale factor x rows), where autovacuum will
-- not vacuum them: it is off, or has not vacuumed the table for $1 seconds. Unvacuumed, such a
-- table only grows, and every take of its next rows reads past all the dead ones.
SELECT s.relname::text AS relname, s.n_dead_tup AS dead
FROM pg_stat_user_tables s
JOIN pg_class c ON c.oid = s.relid
WHERE s.schemaname = current_schema()
  AND s.relname IN ('settle_pending', 'contact_score_dirty')
  AND s.n_dead_tup > current_setting('autovacuum_vacuum_threshold')::bigint
      + current_setting('autovacuum_vacuum_scale_factor')::float8 * greatest(c.reltuples, 0)
  AND (current_setting('autovacuum') = 'off'
       OR coalesce(greatest(s.last_vacuum, s.last_autovacuum), '-infinity') < now() - make_interval(secs => $1));

-- name: statistics_lock
-- One daemon at a time analyzes (a session lock, released after the round).
SELECT pg_try_advisory_lock(hashtextextended('callbridge:statistics', 0));

-- name: statistics_unlock
SELECT pg_advisory_unlock(hashtextextended('callbridge:statistics', 0));
