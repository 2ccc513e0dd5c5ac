"""The inbox: one queue of everything unanswered, a response clock, fair assignment.

- The items (``inbox_items``, migration 0021) are made and closed by a trigger on
  ``communications``: a missed call not called back (the morning report's rule,
  ``callbridge_reached_after_v1``) and an inquiry not answered (``replied_at`` set,
  an answered call with any of the contact's phones after it, or closed by hand).
- ``store``: the queries (list, close by hand, shifts, screen presence, the sweep's steps).
- ``clock``: when an item is due, in office hours (``daemon.leads.officetime``).
- ``sweep``: the supervised task every daemon runs: clock new items, assign them,
  fire the overdue and escalation steps (each once, claimed with SKIP LOCKED), count.
- ``escalation``: the e-mail to ``sla_notify_email``.
- ``api``: ``GET /api/inbox``, ``POST /api/inbox/{id}/done``, ``PUT /api/managers/{extension}/shift``.

Changes are announced on ``callbridge_inbox`` (NOTIFY): the screen (``daemon.screen``)
pushes the lists and the overdue alerts to the managers connected to each daemon.

May import: ``daemon.domain``, ``daemon.store``, ``daemon.http``, ``daemon.runtime`` (keys,
metrics, tasks), ``daemon.report`` (mail), ``daemon.routing.policy`` and ``daemon.leads.officetime``
(the office calendar).
"""
