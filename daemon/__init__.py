"""callbridge: joins a cloud PBX to the agency's CRM database."""
