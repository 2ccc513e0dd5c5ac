"""Leads that end, trips from the booking system, computed tags, analytics and lost clients;
the sales funnel, reactivation campaigns and reminders.

Owns the lead's end (won, lost, archived), trips, computed tags, analytics and lost clients,
and the lead's wish over HTTP (``wish``, ``wish_api``: read, a manager's edit, the U-ON
export; ``wish_analytics``: analytics by destination). By manager, a missed call counts against
the managers it rang (``rung``); the analytics' SVG charts are ``charts``;
the funnel's stages and its analytics (``funnel``, ``funnel_analytics``), reactivation
campaigns (``campaigns``), reminders as tasks (``reminders``) and the nightly jobs (``nightly``).

May import: ``daemon.domain``, ``daemon.wishes``, ``daemon.store``, ``daemon.sheets``, ``daemon.contacts``,
``daemon.report`` (windows, rendering), ``daemon.routing.policy`` (office hours), ``daemon.http``
and ``daemon.runtime`` (keys).
"""
