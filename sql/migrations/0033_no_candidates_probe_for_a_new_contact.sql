-- A contact just inserted has no candidates to find: its phones and its duplicate hints
-- reference it, so none of them can exist before its row does. The INSERT trigger of 0015
-- still ran the whole probe for every new contact (0.67 ms of the database's time per new
-- contact in the messenger bench, as much as the probe that matters, the one its first
-- phone's INSERT runs). The UPDATE trigger stays: a rename, a merge or a removal does
-- change a contact's candidates.
DROP TRIGGER contacts_candidates_insert ON contacts;
