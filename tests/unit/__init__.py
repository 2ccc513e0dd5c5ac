"""Pure functions and parsers: no database, no daemon process, no browser (seconds)."""
