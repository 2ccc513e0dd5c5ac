"""The routing decision: office hours, holidays, time zone, line rules, the responsible manager,
the administrator, and the fall-through to the PBX's own scheme."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from config.settings import SettingsError, day_ranges, load_settings
from daemon.routing.policy import Decision, Responsible, RoutingPolicy

THURSDAY_NOON_MSK = datetime(2025, 10, 9, 9, 0, tzinfo=UTC)  # 12:00 in Moscow
KNOWN = Responsible(contact_id=1, new_contact=False, extension="105", active=True)


def policy(tmp_path: Path, toml: str = "", **env: str) -> RoutingPolicy:
    config = tmp_path / "routing.toml"
    config.write_text(toml or '[office_hours]\nthu = "09:00-19:00"\n', encoding="utf-8")
    return RoutingPolicy.from_settings(load_settings({
        "CALLBRIDGE_CONFIG": str(config), **{f"CALLBRIDGE_{k.upper()}": v for k, v in env.items()}}))


def at_msk(hour: int, minute: int = 0, *, day: int = 9) -> datetime:
    return datetime(2025, 10, day, hour - 3, minute, tzinfo=UTC)


@pytest.mark.parametrize(("hour", "minute", "open_"), [
    (8, 59, False), (9, 0, True), (12, 0, True), (18, 59, True), (19, 0, False), (23, 0, False)])
def test_office_hours_are_judged_in_the_office_time_zone(tmp_path: Path, hour: int, minute: int,
                                                         open_: bool) -> None:
    """09:00-19:00 means Moscow time: 06:00-16:00 UTC; the end is exclusive."""
    assert policy(tmp_path).hours.is_open(at_msk(hour, minute)) is open_


def test_a_day_without_hours_is_closed_and_a_holiday_closes_an_open_day(tmp_path: Path) -> None:
    p = policy(tmp_path, 'holidays = ["2025-10-09"]\n[office_hours]\nthu = "09:00-19:00"\nfri = "09:00-19:00"\n')
    assert not p.hours.is_open(at_msk(12))                   # Thursday, a holiday
    assert p.hours.is_open(at_msk(12, day=10))               # Friday
    assert not p.hours.is_open(at_msk(12, day=11))           # Saturday: no hours given


def test_several_ranges_a_day_and_open_until_midnight(tmp_path: Path) -> None:
    p = policy(tmp_path, '[office_hours]\nthu = "09:00-13:00, 14:00-24:00"\n')
    assert [p.hours.is_open(at_msk(h, 30)) for h in (12, 13, 14, 23)] == [True, False, True, True]


def test_the_time_zone_setting_moves_the_hours(tmp_path: Path) -> None:
    p = policy(tmp_path, 'timezone = "Asia/Vladivostok"\n[office_hours]\nthu = "09:00-19:00"\n')
    # 12:00 in Moscow is 19:00 in Vladivostok: just closed there.
    assert not p.hours.is_open(at_msk(12))
    assert p.hours.is_open(at_msk(11, 59))


def test_responsible_manager_when_active_and_in_hours(tmp_path: Path) -> None:
    p = policy(tmp_path)
    assert p.before_lookup(at=THURSDAY_NOON_MSK, line_number="74951234567", caller_phone="+79161234567") is None
    assert p.after_lookup(KNOWN) == Decision("responsible", "105")


@pytest.mark.parametrize(("found", "reason"), [
    (None, "unknown_caller"),
    (Responsible(contact_id=1, new_contact=True, extension=None, active=None), "unknown_caller"),
    (Responsible(contact_id=1, new_contact=False, extension=None, active=None), "no_responsible"),
    (Responsible(contact_id=1, new_contact=False, extension="105", active=False), "manager_inactive"),
])
def test_no_target_without_an_administrator_and_the_administrator_with_one(
    tmp_path: Path, found: Responsible | None, reason: str
) -> None:
    """The fall-backs: the administrator when configured, else nothing (the PBX rings everyone)."""
    assert policy(tmp_path).after_lookup(found) == Decision(reason)  # type: ignore[arg-type]
    with_admin = policy(tmp_path, administrator_extension="101")
    assert with_admin.after_lookup(found) == Decision("administrator", "101")


def test_hidden_number_needs_no_lookup(tmp_path: Path) -> None:
    assert policy(tmp_path).before_lookup(
        at=THURSDAY_NOON_MSK, line_number="74951234567", caller_phone=None) == Decision("unknown_caller")
    assert policy(tmp_path, administrator_extension="101").before_lookup(
        at=THURSDAY_NOON_MSK, line_number=None, caller_phone=None) == Decision("administrator", "101")


def test_line_rule_wins_over_the_card_but_not_over_office_hours(tmp_path: Path) -> None:
    """The rule's line may be written in any format; the PBX's line_number is matched by E.164."""
    p = policy(tmp_path, '[office_hours]\nthu = "09:00-19:00"\n[line_rules]\n"8 (495) 765-43-21" = 300\n')
    assert p.before_lookup(at=THURSDAY_NOON_MSK, line_number="74957654321",
                           caller_phone="+79161234567") == Decision("line_rule", "300")
    assert p.before_lookup(at=THURSDAY_NOON_MSK, line_number="74951234567", caller_phone="+79161234567") is None
    assert p.before_lookup(at=at_msk(20), line_number="74957654321",
                           caller_phone="+79161234567") == Decision("after_hours")


def test_after_hours_nothing_is_routed_even_to_the_administrator(tmp_path: Path) -> None:
    p = policy(tmp_path, administrator_extension="101")
    assert p.before_lookup(at=at_msk(7), line_number="74951234567",
                           caller_phone="+79161234567") == Decision("after_hours")


def test_without_office_hours_routing_is_off(tmp_path: Path) -> None:
    assert not policy(tmp_path, "timezone = \"Europe/Moscow\"\n").enabled
    assert policy(tmp_path).enabled


@pytest.mark.parametrize(("toml", "says"), [
    ('[office_hours]\nthursday = "09:00-19:00"\n', "unknown weekday 'thursday'"),
    ('[office_hours]\nthu = "9-19"\n', "expected HH:MM-HH:MM"),
    ('[office_hours]\nthu = "19:00-09:00"\n', "ends before it starts"),
    ('[office_hours]\nthu = "09:00-25:00"\n', "no such time"),
    ('holidays = ["not a date"]\n', "holidays"),
])
def test_bad_routing_settings_stop_with_one_line_naming_them(tmp_path: Path, toml: str, says: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(toml, encoding="utf-8")
    with pytest.raises(SettingsError, match=says) as err:
        load_settings({"CALLBRIDGE_CONFIG": str(config)})
    assert "\n" not in str(err.value)


def test_scalar_routing_settings_come_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings({"CALLBRIDGE_ADMINISTRATOR_EXTENSION": "101", "CALLBRIDGE_ROUTE_RATE_PER_S": "2",
                              "CALLBRIDGE_IVR_HOLD_S": "6.5"})
    assert (settings.routing.administrator_extension, settings.routing.rate_per_s, settings.routing.ivr_hold_s) == ("101", 2.0, 6.5)
    assert load_settings({}).routing.rate_per_s == 0.5  # the PBX's documented 1 route per 2 s
    assert load_settings({}).routing.ivr_hold_s == 8.0


def test_day_ranges_reads_closed_days() -> None:
    assert day_ranges("closed") == day_ranges("") == ()
