"""Errors of the contact capability; each carries the HTTP status that answers it."""

from __future__ import annotations

from typing import Any

from daemon.domain.errors import CallbridgeError


class ContactRefused(CallbridgeError):
    """A request about contacts that cannot be done as asked (bad ids, a merged contact...)."""

    def __init__(self, status: int, problem: str, **details: Any) -> None:
        super().__init__(problem)
        self.status = status
        self.problem = problem
        self.details = details

    def as_json(self) -> dict[str, Any]:
        return {"error": self.problem, **self.details}


class UndoConflict(ContactRefused):
    """Rows a merge moved have changed since; undo would overwrite those changes."""

    def __init__(self, merge_id: int, rows: list[dict[str, Any]]) -> None:
        names = ", ".join(_row_name(r) for r in rows[:20]) + (" ..." if len(rows) > 20 else "")
        super().__init__(409, f"merge #{merge_id}: rows changed since the merge: {names}; "
                              "undo with force to overwrite them", rows=rows)
        self.rows = rows


def _row_name(row: dict[str, Any]) -> str:
    key = row["key"]
    if "id" in key:
        return f"{row['table']} #{key['id']}"
    return f"{row['table']} " + "/".join(str(v) for v in key.values())
