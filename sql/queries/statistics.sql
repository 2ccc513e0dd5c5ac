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
