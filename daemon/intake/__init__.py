"""Intake: verify, make durable, acknowledge.

Owns the path from an accepted delivery to a stored event: the admission check
(will PostgreSQL take it?), the spool (its record format is the store's), group commit (one
transaction for the events that arrive together), the quarantine of what could
not be stored, and the pipeline that hands stored events to their projectors.

May import: ``daemon.domain`` and ``daemon.store``, and ``daemon.runtime.metrics``.
"""
