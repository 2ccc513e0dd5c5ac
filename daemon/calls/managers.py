"""Managers mirror the PBX's employees: extension, name, e-mail, active."""

from __future__ import annotations

from dataclasses import dataclass

from adapters.mango.client import Employee
from daemon.store.repository import Repository


@dataclass(frozen=True)
class SyncReport:
    created: int
    updated: int
    deactivated: tuple[str, ...]

    def line(self) -> str:
        gone = ", ".join(self.deactivated) or "нет"
        return f"менеджеры: создано {self.created}, обновлено {self.updated}, отключены: {gone}"


async def sync_managers(repo: Repository, employees: list[Employee]) -> SyncReport:
    """Upsert every employee; those the PBX no longer lists stay, marked inactive."""
    if not employees:
        # An empty list is far likelier a PBX hiccup than an office with no staff.
        raise ValueError("the PBX returned no employees with an extension; nothing changed")
    created = 0
    async with repo.transaction() as tx:
        for emp in employees:
            if await tx.upsert_manager(extension=emp.extension, name=emp.name, email=emp.email,
                                       pbx_user_id=emp.user_id):
                created += 1
        gone = await tx.deactivate_managers_except([e.extension for e in employees])
    return SyncReport(created=created, updated=len(employees) - created, deactivated=tuple(gone))
