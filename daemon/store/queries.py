"""Named SQL queries from sql/queries/*.sql, loaded once.

A file holds blocks that start with ``-- name: NAME``; the block's text up to
the next such line is the query.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from functools import cache
from importlib import resources

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


def parse_queries(text: str) -> dict[str, str]:
    parts = _NAME.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise ValueError(f"query {name!r} defined twice")
        queries[name] = body.strip()
    return queries


@cache
def queries() -> dict[str, str]:
    """All named queries of every file in sql/queries/."""
    found: dict[str, str] = {}
    for entry in sorted(resources.files("sql.queries").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".sql"):
            for name, sql in parse_queries(entry.read_text(encoding="utf-8")).items():
                if name in found:
                    raise ValueError(f"query {name!r} defined twice ({entry.name})")
                found[name] = sql
    return found


# The name of the query this task asked for last: the one running when a timeout stops it,
# named in the timeout's log line (daemon.store.database.translate).
CURRENT_QUERY: ContextVar[str | None] = ContextVar("callbridge_current_query", default=None)


def q(name: str) -> str:
    """The text of the named query (and, for this task, the name of the query now running)."""
    CURRENT_QUERY.set(name)
    return queries()[name]
