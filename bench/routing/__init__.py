"""Routing benchmark: ``python -m bench.routing`` (or ``make bench-routing``).

It creates a throw-away database on the PostgreSQL at 127.0.0.1:5432 with
1,000,000 contacts (loaded with COPY), starts the real daemon against it with
routing on and the rate limit set high, and plays signed ``Appeared``-in-IVR
events of known callers at rising concurrency. A stand-in PBX on 127.0.0.1
timestamps each ``commands/route`` it receives; the report gives p50/p95/p99 of
"webhook sent → route command received" and the sustained rate per level.
The database is dropped at the end. Only 127.0.0.1 is ever contacted.
"""
