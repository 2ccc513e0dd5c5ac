"""Whom a call waiting in the IVR should ring: a pure decision, no I/O.

The order is the agency's: outside office hours nothing is routed (the PBX's
own night scheme plays); a line with a rule of its own always goes where the
rule says; a known caller goes to the responsible manager on his card if that
manager is still active; anyone else goes to the administrator if there is
one; and when no rule names a target, we do nothing and the PBX's scheme
rings everyone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Literal
from zoneinfo import ZoneInfo

from config.settings import WEEKDAYS, Settings, day_ranges
from daemon.domain.phones import line_key

Reason = Literal[
    "responsible", "administrator", "line_rule", "after_hours", "unknown_caller",
    "no_responsible", "manager_inactive", "pbx_error", "too_late",
]
# Reasons that come with a target to send a route command to.
ROUTED_REASONS = frozenset({"responsible", "administrator", "line_rule"})


@dataclass(frozen=True)
class Decision:
    reason: Reason
    target: str | None = None  # an extension or group number, as the PBX's to_number

    @property
    def routes(self) -> bool:
        return self.target is not None


@dataclass(frozen=True)
class Responsible:
    """What the one indexed lookup tells about a caller's number."""

    contact_id: int
    new_contact: bool            # made by this very call: an unknown caller until now
    extension: str | None        # the responsible manager, if the card names one
    active: bool | None


@dataclass(frozen=True)
class OfficeHours:
    """Opening times per weekday and holidays, in the office's time zone."""

    tz: ZoneInfo
    week: tuple[tuple[tuple[time, time | None], ...], ...]  # Monday first
    holidays: frozenset[date]

    @classmethod
    def from_settings(cls, settings: Settings) -> OfficeHours:
        week = tuple(day_ranges(settings.routing.office_hours.get(day, "closed")) for day in WEEKDAYS)
        return cls(tz=settings.tz, week=week, holidays=frozenset(settings.routing.holidays))

    @property
    def configured(self) -> bool:
        return any(self.week)

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(self.tz)
        if local.date() in self.holidays:
            return False
        now = local.time().replace(tzinfo=None)
        return any(start <= now and (end is None or now < end)
                   for start, end in self.week[local.weekday()])


@dataclass(frozen=True)
class RoutingPolicy:
    hours: OfficeHours
    administrator: str | None
    line_rules: Mapping[str, str]  # line_key -> target
    region: str

    @classmethod
    def from_settings(cls, settings: Settings) -> RoutingPolicy:
        rules = {}
        for line, target in settings.routing.line_rules.items():
            key = line_key(line, settings.default_region)
            if key is not None:
                rules[key] = target
        return cls(hours=OfficeHours.from_settings(settings),
                   administrator=settings.routing.administrator_extension,
                   line_rules=rules, region=settings.default_region)

    @property
    def enabled(self) -> bool:
        """Without office hours there is no time we may route in: routing is off."""
        return self.hours.configured

    def before_lookup(self, *, at: datetime, line_number: str | None,
                      caller_phone: str | None) -> Decision | None:
        """The decision when it needs no database; None means: look the caller up."""
        if not self.hours.is_open(at):
            return Decision("after_hours")
        rule = self.line_rules.get(line_key(line_number, self.region) or "")
        if rule:
            return Decision("line_rule", rule)
        if caller_phone is None:  # hidden number, or not a phone at all
            return self._otherwise("unknown_caller")
        return None

    def after_lookup(self, found: Responsible | None) -> Decision:
        if found is None or found.new_contact:
            return self._otherwise("unknown_caller")
        if found.extension is None:
            return self._otherwise("no_responsible")
        if not found.active:
            return self._otherwise("manager_inactive")
        return Decision("responsible", found.extension)

    def _otherwise(self, reason: Reason) -> Decision:
        if self.administrator:
            return Decision("administrator", self.administrator)
        return Decision(reason)
