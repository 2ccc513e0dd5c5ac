"""The daemon's parts against a real PostgreSQL and its HTTP surface in-process (aiohttp_client)."""
