"""The store: the only place that talks SQL.

Owns the connection pool (a configured server or an embedded one), the named
queries of ``sql/queries``, the migrations of ``sql/migrations``, the repository
whose methods the rest of the daemon calls, the versioned record format of a
stored or spooled event (``records``), and the inbox's retention. asyncpg's
errors become ``daemon.domain.errors`` here.

May import: ``daemon.domain`` and ``config``.
"""
