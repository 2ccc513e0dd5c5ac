"""Leads that end, trips from the booking system, computed tags, analytics and lost clients.

Owns the lead's end (won, lost, archived), trips, computed tags, analytics and lost clients.

May import: ``daemon.domain``, ``daemon.store``, ``daemon.sheets``, ``daemon.contacts``,
``daemon.report`` (windows, rendering), ``daemon.routing.policy`` (office hours), ``daemon.http``
and ``daemon.runtime`` (keys).
"""
