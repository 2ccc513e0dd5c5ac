-- Functions no daemon calls any more, dropped (docs/ARCHITECTURE.md, «Database functions are
-- versioned»: the previous version stays for the release after next, then goes):
-- * the unversioned batch functions of 0013, superseded by their _v1/_v2 names in 0018
--   (sql/queries calls only those; no trigger or function names these);
-- * inquiry_facts_after_communications and inquiry_facts_touched of 0017, whose triggers
--   0019 moved to their _v2 (inquiry_facts_refresh of 0017 stays: the triggers on
--   contacts, leads and trips call it).
DROP FUNCTION callbridge_ingest;
DROP FUNCTION callbridge_store_calls;
DROP FUNCTION callbridge_call_states;
DROP FUNCTION callbridge_open_lead;
DROP FUNCTION callbridge_join_open_lead;
DROP FUNCTION callbridge_current_lead;
DROP FUNCTION inquiry_facts_after_communications;
DROP FUNCTION inquiry_facts_touched;
