"""The HTTP edge every route shares.

Owns the request and error middlewares (``boundary``), the input readers every
handler uses (``inputs``), the API token, the connection and request limits
(``security``, ``connections``), the contact lookup API and ``/metrics``.

May import: ``daemon.domain``, ``daemon.store`` and ``daemon.runtime``'s keys and metrics.
"""
