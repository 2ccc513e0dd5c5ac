"""Injected failures and hostile input: PostgreSQL stopped, frozen or restarted, a failing PBX, hostile bodies and forms, timeouts, limits, secrets never shown."""
