"""Leads that end, trips from the booking system, computed tags, analytics and lost clients;
the sales funnel, reactivation campaigns and reminders.

Owns the lead's end (won, lost, archived), trips, computed tags, analytics and lost clients,
the funnel's stages and its analytics (``funnel``, ``funnel_analytics``), reactivation
campaigns (``campaigns``), reminders as tasks (``reminders``) and the nightly jobs (``nightly``).

May import: ``daemon.domain``, ``daemon.store``, ``daemon.sheets``, ``daemon.contacts``,
``daemon.report`` (windows, rendering), ``daemon.routing.policy`` (office hours), ``daemon.http``
and ``daemon.runtime`` (keys).
"""
