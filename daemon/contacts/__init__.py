"""The contact base: identifiers that find a person, and (later) import, duplicates, merges."""
