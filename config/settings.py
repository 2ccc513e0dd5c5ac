"""The one settings object: an optional TOML file overridden by CALLBRIDGE_* variables.

Built once at the entry point (``load_settings``) and passed down; nothing else
reads the environment.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
from collections.abc import Mapping
from datetime import date, time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

ENV_PREFIX = "CALLBRIDGE_"
CONFIG_ENV = "CALLBRIDGE_CONFIG"
WEBHOOK_BODY_LIMIT_BYTES = 64 * 1024
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS_RANGE = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


def day_ranges(text: str) -> tuple[tuple[time, time | None], ...]:
    """``"09:00-13:00, 14:00-19:00"`` -> ((09:00, 13:00), (14:00, 19:00)); ``"closed"`` -> ().

    An end of ``24:00`` is given as None (open until midnight). Raises ValueError.
    """
    text = text.strip().lower()
    if text in ("", "closed", "off"):
        return ()
    ranges = []
    for part in text.replace(" ", "").split(","):
        match = _HOURS_RANGE.match(part)
        if not match:
            raise ValueError(f"expected HH:MM-HH:MM, got {part!r}")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
            raise ValueError(f"no such time in {part!r}")
        start, end = time(h1, m1), (None if h2 == 24 else time(h2, m2))
        if end is not None and end <= start:
            raise ValueError(f"{part!r} ends before it starts (a range may not cross midnight)")
        ranges.append((start, end))
    return tuple(ranges)


def _number_as_text(value: object) -> object:
    """TOML lets people write extensions as numbers (``administrator_extension = 101``)."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


SourceKind = Literal["tilda", "form", "jivo", "telegram", "vk", "email", "api", "max", "wazzup", "greenapi", "avito"]
SOURCE_NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"
# Kinds whose sender proves itself with the configured secret (docs/CHANNELS.md).
KINDS_WITH_SECRET = frozenset({"tilda", "form", "jivo", "telegram", "vk", "max", "wazzup", "greenapi", "avito"})


class SourceSettings(BaseModel):
    """One ``[sources.<name>]``: a sender of inquiries and how it proves itself.

    ``secret``: Tilda, form, Jivo, Wazzup and Avito give it as ``?token=`` (a form may send
    ``Authorization: Bearer``), Telegram as ``X-Telegram-Bot-Api-Secret-Token``,
    MAX as ``X-Max-Bot-Api-Secret``, Green-API as ``Authorization`` (its
    ``webhookUrlToken``), VK as the ``secret`` field of the body. ``confirmation``:
    VK's code for the server-address handshake. The ``imap_*`` settings are read by
    the e-mail poller of ``email`` sources. ``api_url`` and the credentials below
    it are the reply channel's (adapters/<kind>/reply.py; docs/CONFIGURATION.md).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: SourceKind
    secret: SecretStr | None = None
    confirmation: str | None = None
    ad_source: str | None = None
    imap_host: str | None = None
    imap_port: int = Field(default=993, ge=1, le=65535)
    username: str | None = None
    password: SecretStr | None = None
    folder: str = "INBOX"
    done_folder: str | None = None
    # The e-mail poller's own (docs/CHANNELS.md, "E-mail inquiries"): "tls" is TLS from the
    # first byte (port 993); "plain" only for a server on this machine or in tests.
    imap_security: Literal["tls", "plain"] = "tls"
    skipped_folder: str | None = None  # auto-replies and bounces; None: done_folder
    # A message that could not be filed after 3 attempts (it is also in event_quarantine).
    quarantine_folder: str = Field(default="callbridge-quarantine", min_length=1)
    poll_interval_s: float = Field(default=60.0, gt=0)  # servers without IDLE
    imap_timeout_s: float = Field(default=30.0, gt=0)
    # Replies (docs/CHANNELS.md, "Replies"): Telegram's (and MAX's) bot token, VK's community access
    # token, the provider's API address (None: the channel's public one).
    bot_token: SecretStr | None = None
    access_token: SecretStr | None = None
    api_url: str | None = Field(default=None, pattern=r"^https?://")
    # E-mail replies go through the source's own mail server, else the global [smtp];
    # From is reply_from, else the mailbox's username, else report_email_from.
    smtp_host: str | None = None
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_security: Literal["none", "starttls", "tls"] | None = None
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    reply_from: str | None = None
    # Sent outside office hours (at most once per contact per [replies] auto_reply_every_h);
    # {next_open} reads «в понедельник в 09:00».
    auto_reply: str | None = Field(default=None, min_length=1, max_length=4000)
    # The messengers' credentials (docs/CHANNELS.md).
    api_key: SecretStr | None = None  # wazzup
    id_instance: str | None = None  # greenapi
    api_token: SecretStr | None = None  # greenapi (apiTokenInstance)
    client_id: str | None = None  # avito (OAuth client credentials)
    client_secret: SecretStr | None = None  # avito
    user_id: str | None = None  # avito: the agency's own account
    # avito: an ad (item_id) -> its ad source («Реклама»); other ads take ad_source.
    items: dict[str, str] = Field(default_factory=dict)

    @field_validator("items", mode="before")
    @classmethod
    def _item_keys(cls, value: object) -> object:
        # Avito sends item_id as a number; TOML keys are text.
        return {str(k).strip(): v for k, v in value.items()} if isinstance(value, dict) else value

    @model_validator(mode="after")
    def _complete(self) -> SourceSettings:
        if self.kind in KINDS_WITH_SECRET and (self.secret is None or not self.secret.get_secret_value()):
            raise ValueError(f"a {self.kind} source needs a secret")
        if self.kind == "vk" and not self.confirmation:
            raise ValueError("a vk source needs its confirmation code")
        if self.kind == "email" and not (self.imap_host and self.username and self.password):
            raise ValueError("an email source needs imap_host, username and password")
        return self


DEFAULT_LOST_REASONS = ("Конкуренты", "Переезд", "Финансовые причины", "Нерешительный турист",
                        "Купил в другом агентстве", "Не дозвонились", "Другое")
DEFAULT_TRIP_STATUSES = {
    "оплачена": "paid", "оплачено": "paid", "оплачено полностью": "paid", "оплачена полностью": "paid",
    "оплата получена": "paid", "подтверждена": "paid", "paid": "paid",
    "аннулирована": "cancelled", "аннулировано": "cancelled", "отменена": "cancelled",
    "отменено": "cancelled", "отказ": "cancelled", "cancelled": "cancelled", "canceled": "cancelled",
    "не оплачена": "pending", "частично оплачена": "pending", "ожидает оплаты": "pending",
    "новая": "pending", "в работе": "pending", "pending": "pending",
}


class SettingsError(Exception):
    """A setting is missing or invalid; the message is one line naming it."""


def _default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "callbridge"


def _default_runtime_dir() -> Path:
    base = os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/callbridge-{os.getuid()}"
    return Path(base) / "callbridge"


def _comma_tuple(value: object) -> object:
    """A list in TOML, or ``a,b,c`` in an environment variable."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


def _networks(value: object) -> object:
    """A list in TOML, or ``a,b/24`` in an environment variable; each an address or a network."""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, list | tuple):
        for item in value:
            try:
                ipaddress.ip_network(str(item).strip(), strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network such as 81.88.80.0/24") from None
    return value


def _json_table(value: object) -> object:
    """A TOML table, or JSON in an environment variable."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise ValueError("expected a TOML table, or a JSON object in the variable") from None
    return value


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatabaseSettings(_Group):
    """``[database]``: which PostgreSQL, and the daemon's and the CLI's connections to it."""

    url: str | None = None
    pool_min: int = Field(default=2, ge=1)
    pool_max: int = Field(default=10, ge=1)
    command_timeout_s: float = Field(default=5.0, gt=0)
    # PostgreSQL's JIT compiler for the daemon's and the CLI's connections. Off: the
    # reads a person opens (analytics, duplicates, reports) are estimated far above
    # jit_above_cost, and compiling took longer than running them (1.2 s of JIT for
    # a 0.4 s analytics query at a mid-size agency; docs/BENCHMARKS.md, «Reads»).
    jit: bool = False
    connect_attempts: int = Field(default=10, ge=1)


class HttpSettings(_Group):
    """``[http]``: where the daemon listens, who may ask, and what any client may ask at once."""

    listen: str = "127.0.0.1:8080"
    api_token: SecretStr | None = None
    trusted_proxies: list[str] = Field(default_factory=list)  # whose X-Forwarded-For is believed
    max_concurrent_requests: int = Field(default=1024, ge=1)
    request_timeout_s: float = Field(default=30.0, gt=0)
    # Idle keep-alive connections are closed after this long (each holds a descriptor).
    keepalive_timeout_s: float = Field(default=15.0, gt=0)

    _proxies = field_validator("trusted_proxies", mode="before")(_networks)

    @field_validator("listen")
    @classmethod
    def _listen_is_host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("expected HOST:PORT, e.g. 127.0.0.1:8080")
        return value

    @property
    def listen_host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def listen_port(self) -> int:
        return int(self.listen.rpartition(":")[2])


class MangoSettings(_Group):
    """``[mango]``: the PBX's API, its webhooks and who may post them."""

    api_key: SecretStr | None = None
    api_salt: SecretStr | None = None
    api_url: str = "https://app.mango-office.ru/vpbx/"
    prefix: str = "/mango"
    request_timeout_s: float = Field(default=5.0, gt=0)
    # stats/result is polled no more than once per 5 s (the PBX's manual).
    stats_poll_interval_s: float = Field(default=5.0, gt=0)
    # Empty allowed_networks lets any source post (the signature is checked anyway).
    allowed_networks: list[str] = Field(default_factory=list)

    _allowed = field_validator("allowed_networks", mode="before")(_networks)

    @field_validator("prefix")
    @classmethod
    def _prefix_is_path(cls, value: str) -> str:
        if not value.startswith("/") or value.endswith("/") and value != "/":
            raise ValueError("expected a path such as /mango")
        return value.rstrip("/")

    @field_validator("api_url")
    @classmethod
    def _url_has_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an http(s) URL")
        return value if value.endswith("/") else value + "/"


class SpoolSettings(_Group):
    """``[spool]``: the intake's disk spool and how much it hands PostgreSQL at once."""

    enabled: bool = True
    db_budget_s: float = Field(default=2.0, gt=0)
    max_in_flight: int = Field(default=256, ge=1)


class RoutingSettings(_Group):
    """``[routing]``: office hours (in ``timezone``; outside them nothing is routed) and rules."""

    office_hours: dict[str, str] = Field(default_factory=dict)
    holidays: list[date] = Field(default_factory=list)
    administrator_extension: str | None = None
    line_rules: dict[str, str] = Field(default_factory=dict)
    rate_per_s: float = Field(default=0.5, gt=0)  # the PBX allows 1 route per 2 s
    ivr_hold_s: float = Field(default=8.0, gt=0)

    @field_validator("office_hours")
    @classmethod
    def _office_hours_valid(cls, value: dict[str, str]) -> dict[str, str]:
        for day, text in value.items():
            if day not in WEEKDAYS:
                raise ValueError(f"unknown weekday {day!r}, expected one of {', '.join(WEEKDAYS)}")
            try:
                day_ranges(text)
            except ValueError as exc:
                raise ValueError(f"{day}: {exc}") from None
        return value

    @field_validator("administrator_extension", mode="before")
    @classmethod
    def _extension_text(cls, value: object) -> object:
        value = _number_as_text(value)
        return value.strip() or None if isinstance(value, str) else value

    @field_validator("line_rules", mode="before")
    @classmethod
    def _line_rules_text(cls, value: object) -> object:
        if isinstance(value, dict):
            return {str(k).strip(): _number_as_text(v) for k, v in value.items()}
        return value


class ReportSettings(_Group):
    """``[report]``: the morning missed-call report, its window and its e-mail."""

    # The morning report covers the time since the office last closed: the end of
    # office_hours when set, else day_end (office time) on working_days.
    day_end: str = Field(default="19:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    working_days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")
    # The morning report and the screen list every caller missed within this many
    # days and not reached back since (the night's first); any report window longer
    # than max_window_days is refused.
    lookback_days: int = Field(default=7, ge=1, le=93)
    max_window_days: int = Field(default=93, ge=1, le=3660)
    email_from: str | None = None
    email_to: tuple[str, ...] = ()

    _lists = field_validator("working_days", "email_to", mode="before")(_comma_tuple)

    @field_validator("working_days")
    @classmethod
    def _weekday_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        names = tuple(day.lower()[:3] for day in value)
        unknown = [day for day in names if day not in WEEKDAYS]
        if unknown or not names:
            raise ValueError(f"expected weekday names such as mon,tue,wed; got {list(value)}")
        return names


class SmtpSettings(_Group):
    """``[smtp]``: the mail server the report is sent through."""

    host: str | None = None
    port: int = Field(default=587, ge=1, le=65535)
    security: str = Field(default="starttls", pattern="^(none|starttls|tls)$")
    username: str | None = None
    password: SecretStr | None = None
    timeout_s: float = Field(default=30.0, gt=0)


class ReplySettings(_Group):
    """``[replies]``: the outbox's sender (daemon/inquiries/outbox_sender.py) and the auto-reply."""

    poll_interval_s: float = Field(default=1.0, gt=0)  # how often each daemon looks for due replies
    send_timeout_s: float = Field(default=15.0, gt=0)  # one attempt at the provider
    give_up_after_h: float = Field(default=24.0, gt=0)  # retries (5xx, timeouts) stop: failed
    concurrency: int = Field(default=4, ge=1, le=64)  # replies in flight per daemon
    retry_base_s: float = Field(default=5.0, gt=0)  # the first retry's wait, doubled per attempt
    auto_reply_every_h: float = Field(default=12.0, ge=0)  # at most one auto-reply per contact


class RetentionSettings(_Group):
    """``[retention]``: raw PBX events older than ``inbox_days`` are pruned from the inbox
    (`callbridge prune` and the daemon's daily pass); derived rows are kept. 0 keeps them forever."""

    inbox_days: int = Field(default=180, ge=0)
    prune_batch: int = Field(default=5000, ge=1, le=100_000)


class InquirySettings(_Group):
    """``[inquiries]``: the senders, utm_source -> ad source, and how long a chat may be
    silent before its next message starts a new communication."""

    sources: dict[str, SourceSettings] = Field(default_factory=dict)
    utm_sources: dict[str, str] = Field(default_factory=dict)
    conversation_idle_s: float = Field(default=7200.0, gt=0)
    # The agency's own e-mail addresses: never taken for a client's (e-mail inquiries).
    agency_emails: tuple[str, ...] = ()

    _tables = field_validator("sources", "utm_sources", mode="before")(_json_table)

    @field_validator("sources")
    @classmethod
    def _source_names(cls, value: dict[str, SourceSettings]) -> dict[str, SourceSettings]:
        for name in value:
            if not re.fullmatch(SOURCE_NAME, name):
                raise ValueError(f"source name {name!r}: use a-z, 0-9, '-' and '_' (it is part of a URL)")
        return value

    @field_validator("utm_sources")
    @classmethod
    def _utm_keys_lower(cls, value: dict[str, str]) -> dict[str, str]:
        # Tilda's TILDAUTM cookie lower-cases the values: compare lower-cased.
        return {key.strip().lower(): ad for key, ad in value.items()}

    @field_validator("agency_emails", mode="before")
    @classmethod
    def _agency_emails(cls, value: object) -> object:
        """A list in TOML, or ``a@x,b@x`` in CALLBRIDGE_AGENCY_EMAILS; compared lower-cased."""
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list | tuple):
            return tuple(str(a).strip().lower() for a in value if str(a).strip())
        return value


class LeadSettings(_Group):
    """``[leads]``: leads, tags, trips and lost clients."""

    stale_days: int = Field(default=30, ge=1)  # no activity this long: the lead is archived
    lost_reasons: tuple[str, ...] = DEFAULT_LOST_REASONS
    tag_regular_min_trips: int = Field(default=3, ge=1)  # «постоянный турист»: paid trips ...
    tag_regular_months: int = Field(default=24, ge=1)  # ... that started within this many months
    tag_cold_months: int = Field(default=18, ge=1)  # «холодный»: no communication and no trip
    # Booking-system status (compared lower-cased, trimmed) -> paid | cancelled | pending.
    trip_statuses: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_TRIP_STATUSES))
    lost_client_trip_months: int = Field(default=12, ge=1)  # last trip ended longer ago than this
    lost_client_silence_months: int = Field(default=6, ge=1)  # and no communication for this long

    _reasons = field_validator("lost_reasons", mode="before")(_comma_tuple)

    @field_validator("trip_statuses")
    @classmethod
    def _trip_statuses_known(cls, value: dict[str, str]) -> dict[str, str]:
        bad = sorted({v for v in value.values() if v not in ("paid", "cancelled", "pending")})
        if bad:
            raise ValueError(f"statuses map to paid, cancelled or pending; got {bad}")
        return {k.strip().lower(): v for k, v in value.items()}


class SlaSettings(_Group):
    """``[sla]``: the response clock of the inbox, in office hours (``[routing]``'s, 24/7 without them)."""

    first_response_minutes: int = Field(default=15, ge=1, le=10_080)
    # Per channel (call, web_form, chat, telegram, vk, email, api): ``email = 120``.
    channels: dict[str, int] = Field(default_factory=dict)
    # This long after due_at an unanswered item goes to another manager and is e-mailed.
    escalate_after_minutes: int = Field(default=30, ge=1, le=10_080)
    notify_email: str | None = None

    _tables = field_validator("channels", mode="before")(_json_table)

    @field_validator("channels")
    @classmethod
    def _minutes_positive(cls, value: dict[str, int]) -> dict[str, int]:
        bad = sorted(name for name, minutes in value.items() if not 1 <= minutes <= 10_080)
        if bad:
            raise ValueError(f"minutes must be 1..10080; got {', '.join(bad)}")
        return {name.strip().lower(): minutes for name, minutes in value.items()}

    def minutes_for(self, channel: str) -> int:
        return self.channels.get(channel, self.first_response_minutes)


class AssignmentSettings(_Group):
    """``[assignment]``: who gets a new inbox item."""

    # ``balanced``: the contact's responsible manager, else the manager on shift with
    # the fewest open items, while he has fewer than ``cap``; else it waits.
    mode: str = Field(default="balanced", pattern="^balanced$")
    cap: int = Field(default=5, ge=1, le=10_000)


DEFAULT_FUNNEL_STAGES = ("Новое обращение", "Выявление потребностей", "Подбор отправлен", "Согласование",
                         "Счёт выставлен", "Оплачено", "Поездка")
DEFAULT_REFUSAL_REASONS = ("Конкуренты", "Переезд", "Финансовые причины", "Купил в другом агентстве",
                           "Недоволен сервисом", "Другое")


class FunnelSettings(_Group):
    """``[funnel]``: the sales funnel's stages, in order; a lead starts at the first."""

    stages: tuple[str, ...] = DEFAULT_FUNNEL_STAGES
    paid_stage: str = "Оплачено"  # where a booking that wins the lead moves it
    trip_stage: str = "Поездка"  # where the start of that trip moves it

    _stages = field_validator("stages", mode="before")(_comma_tuple)

    @model_validator(mode="after")
    def _known_stages(self) -> FunnelSettings:
        if len(self.stages) < 2 or len(set(self.stages)) != len(self.stages):
            raise ValueError("funnel stages: at least two, each named once")
        for name in (self.paid_stage, self.trip_stage):
            if name not in self.stages:
                raise ValueError(f"funnel stage {name!r} is not one of the stages")
        return self


class CampaignSettings(_Group):
    """``[campaigns]``: reactivation calls: why people refuse, how long a claim holds."""

    refusal_reasons: tuple[str, ...] = DEFAULT_REFUSAL_REASONS
    claim_days: int = Field(default=30, ge=1)  # the default of a new campaign's claim_days

    _reasons = field_validator("refusal_reasons", mode="before")(_comma_tuple)


class TaskSettings(_Group):
    """``[tasks]``: reminders to the responsible manager, made by ``tasks refresh`` (nightly)."""

    birthday_days_ahead: int = Field(default=3, ge=0)
    after_trip_days: int = Field(default=2, ge=0)  # «Как съездили?» this many days after the trip ends
    next_season_days: int = Field(default=60, ge=1)  # before the anniversary of the last trip's start
    # When the daemon runs the nightly jobs (tasks, scores, the funnel's trips), office time.
    nightly_at: time = time(3, 30)
    nightly_in_daemon: bool = True  # off when the systemd timer runs `callbridge tasks refresh` instead


class LogSettings(_Group):
    """``[log]``: the shape and level of the log lines."""

    format: str = Field(default="auto", pattern="^(auto|json|console)$")
    level: str = Field(default="info", pattern="^(debug|info|warning|error)$")


# Each group's fields under their names of before the groups (the flat TOML keys and the
# CALLBRIDGE_<KEY> variables people already use): flat name -> (group, field).
FLAT_NAMES: dict[str, tuple[str, str]] = {
    "database_url": ("database", "url"),
    "db_pool_min": ("database", "pool_min"),
    "db_pool_max": ("database", "pool_max"),
    "db_command_timeout_s": ("database", "command_timeout_s"),
    "db_jit": ("database", "jit"),
    "db_connect_attempts": ("database", "connect_attempts"),
    "listen": ("http", "listen"),
    "api_token": ("http", "api_token"),
    "trusted_proxies": ("http", "trusted_proxies"),
    "max_concurrent_requests": ("http", "max_concurrent_requests"),
    "request_timeout_s": ("http", "request_timeout_s"),
    "http_keepalive_timeout_s": ("http", "keepalive_timeout_s"),
    "mango_api_key": ("mango", "api_key"),
    "mango_api_salt": ("mango", "api_salt"),
    "mango_api_url": ("mango", "api_url"),
    "mango_prefix": ("mango", "prefix"),
    "pbx_request_timeout_s": ("mango", "request_timeout_s"),
    "pbx_stats_poll_interval_s": ("mango", "stats_poll_interval_s"),
    "pbx_allowed_networks": ("mango", "allowed_networks"),
    "spool_enabled": ("spool", "enabled"),
    "db_budget_s": ("spool", "db_budget_s"),
    "max_in_flight": ("spool", "max_in_flight"),
    "office_hours": ("routing", "office_hours"),
    "holidays": ("routing", "holidays"),
    "administrator_extension": ("routing", "administrator_extension"),
    "line_rules": ("routing", "line_rules"),
    "route_rate_per_s": ("routing", "rate_per_s"),
    "ivr_hold_s": ("routing", "ivr_hold_s"),
    "report_day_end": ("report", "day_end"),
    "report_working_days": ("report", "working_days"),
    "report_lookback_days": ("report", "lookback_days"),
    "report_max_window_days": ("report", "max_window_days"),
    "report_email_from": ("report", "email_from"),
    "report_email_to": ("report", "email_to"),
    "smtp_host": ("smtp", "host"),
    "smtp_port": ("smtp", "port"),
    "smtp_security": ("smtp", "security"),
    "smtp_username": ("smtp", "username"),
    "smtp_password": ("smtp", "password"),
    "smtp_timeout_s": ("smtp", "timeout_s"),
    "reply_poll_interval_s": ("replies", "poll_interval_s"),
    "reply_send_timeout_s": ("replies", "send_timeout_s"),
    "reply_give_up_after_h": ("replies", "give_up_after_h"),
    "reply_concurrency": ("replies", "concurrency"),
    "reply_retry_base_s": ("replies", "retry_base_s"),
    "auto_reply_every_h": ("replies", "auto_reply_every_h"),
    "inbox_retention_days": ("retention", "inbox_days"),
    "inbox_prune_batch": ("retention", "prune_batch"),
    "sources": ("inquiries", "sources"),
    "utm_sources": ("inquiries", "utm_sources"),
    "conversation_idle_s": ("inquiries", "conversation_idle_s"),
    "agency_emails": ("inquiries", "agency_emails"),
    "lead_stale_days": ("leads", "stale_days"),
    "lead_lost_reasons": ("leads", "lost_reasons"),
    "tag_regular_min_trips": ("leads", "tag_regular_min_trips"),
    "tag_regular_months": ("leads", "tag_regular_months"),
    "tag_cold_months": ("leads", "tag_cold_months"),
    "trip_statuses": ("leads", "trip_statuses"),
    "lost_client_trip_months": ("leads", "lost_client_trip_months"),
    "lost_client_silence_months": ("leads", "lost_client_silence_months"),
    "sla_first_response_minutes": ("sla", "first_response_minutes"),
    "sla_channels": ("sla", "channels"),
    "sla_escalate_after_minutes": ("sla", "escalate_after_minutes"),
    "sla_notify_email": ("sla", "notify_email"),
    "assignment_mode": ("assignment", "mode"),
    "assignment_cap": ("assignment", "cap"),
    "funnel_stages": ("funnel", "stages"),
    "funnel_paid_stage": ("funnel", "paid_stage"),
    "funnel_trip_stage": ("funnel", "trip_stage"),
    "campaign_refusal_reasons": ("campaigns", "refusal_reasons"),
    "campaign_claim_days": ("campaigns", "claim_days"),
    "task_birthday_days_ahead": ("tasks", "birthday_days_ahead"),
    "task_after_trip_days": ("tasks", "after_trip_days"),
    "task_next_season_days": ("tasks", "next_season_days"),
    "nightly_at": ("tasks", "nightly_at"),
    "nightly_in_daemon": ("tasks", "nightly_in_daemon"),
    "log_format": ("log", "format"),
    "log_level": ("log", "level"),
}
# (group, field) -> its flat name, for messages and the reload's log.
NESTED_NAMES = {where: flat for flat, where in FLAT_NAMES.items()}


def nest(values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with every flat name moved into its group (``lead_stale_days`` -> ``leads.stale_days``).

    A flat key wins over the same setting given in its group's table, as the later
    of two spellings in one place; names that are neither are left for the model to refuse.
    """
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name in FLAT_NAMES:
            continue
        out[name] = dict(value) if name in GROUPS and isinstance(value, Mapping) else value
    for name, value in values.items():
        if name in FLAT_NAMES:
            group, field = FLAT_NAMES[name]
            table = out.setdefault(group, {})
            if isinstance(table, dict):
                table[field] = value
    return out


class _NestedToml(TomlConfigSettingsSource):
    """The TOML file, its flat keys moved into their groups before the sources merge
    (so that a CALLBRIDGE_ variable still wins over the file however either is spelled)."""

    def __call__(self) -> dict[str, Any]:
        return nest(super().__call__())


class Settings(BaseSettings):
    """Every setting, grouped by the capability that reads it (``settings.leads.stale_days``).

    The names of before the groups (``lead_stale_days``, ``CALLBRIDGE_LEAD_STALE_DAYS``)
    are still accepted everywhere: FLAT_NAMES maps each one into its group.
    """

    model_config = SettingsConfigDict(
        extra="forbid", frozen=True)

    timezone: str = "Europe/Moscow"
    default_region: str = "RU"
    # Spool and embedded database.
    state_dir: Path = Field(default_factory=_default_state_dir)
    # Where a daemon on an embedded PostgreSQL says which one it uses, so that commands run
    # from the same directory use it too (daemon/store/choice.py); per user, not per configuration.
    runtime_dir: Path = Field(default_factory=_default_runtime_dir)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    mango: MangoSettings = Field(default_factory=MangoSettings)
    spool: SpoolSettings = Field(default_factory=SpoolSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    replies: ReplySettings = Field(default_factory=ReplySettings)
    # ``[templates]``: a reply's name -> its text, with {name} (the contact) and {manager}.
    templates: dict[str, str] = Field(default_factory=dict)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    inquiries: InquirySettings = Field(default_factory=InquirySettings)
    leads: LeadSettings = Field(default_factory=LeadSettings)
    sla: SlaSettings = Field(default_factory=SlaSettings)
    assignment: AssignmentSettings = Field(default_factory=AssignmentSettings)
    funnel: FunnelSettings = Field(default_factory=FunnelSettings)
    campaigns: CampaignSettings = Field(default_factory=CampaignSettings)
    tasks: TaskSettings = Field(default_factory=TaskSettings)
    log: LogSettings = Field(default_factory=LogSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        init_kwargs: dict[str, Any] = init_settings.init_kwargs  # type: ignore[attr-defined]
        toml_file = init_kwargs.pop("_toml_file", None)
        nested = nest(init_kwargs)
        init_kwargs.clear()
        init_kwargs.update(nested)
        # The environment is read by load_settings (so tests can pass a mapping);
        # it arrives here as init arguments, which therefore win over the file.
        sources: list[PydanticBaseSettingsSource] = [init_settings]
        if toml_file is not None:
            sources.append(_NestedToml(settings_cls, toml_file=toml_file))
        return tuple(sources)

    @model_validator(mode="before")
    @classmethod
    def _flat_names(cls, values: object) -> object:
        """``Settings(lead_stale_days=5)`` and ``model_validate`` of a flat mapping, as before the groups."""
        return nest(values) if isinstance(values, Mapping) else values

    _templates = field_validator("templates", mode="before")(_json_table)

    @field_validator("templates")
    @classmethod
    def _templates_named(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not name.strip() or not text.strip():
                raise ValueError(f"template {name!r}: a name and a text are required")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone_exists(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("default_region")
    @classmethod
    def _region_known(cls, value: str) -> str:
        if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown region {value!r}, expected a code such as RU")
        return value.upper()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def value(self, name: str) -> Any:
        """A setting by its flat name (``lead_stale_days``) or its path (``leads.stale_days``)."""
        group, _, field = (".".join(FLAT_NAMES[name]) if name in FLAT_NAMES else name).rpartition(".")
        return getattr(getattr(self, group) if group else self, field)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Settings:
        """As pydantic's, with ``update`` also by flat name (``{"lead_stale_days": 5}``)."""
        if not update:
            return super().model_copy(deep=deep)
        groups: dict[str, Any] = {}
        for name, value in nest(update).items():
            if name in GROUPS and isinstance(value, dict):
                value = getattr(self, name).model_copy(update=value)
            groups[name] = value
        return super().model_copy(update=groups, deep=deep)

    def require(self, *names: str) -> None:
        """Stop with a clear line when a setting a command needs is not set."""
        for name in names:
            if self.value(name) is None:
                raise SettingsError(
                    f"setting {name} is required: set CALLBRIDGE_{name.upper()} "
                    f"or {name} in the file named by {CONFIG_ENV}"
                )

    def secret(self, name: str) -> str:
        value = self.value(name)
        if value is None:
            self.require(name)
        return str(value.get_secret_value())


GROUPS: frozenset[str] = frozenset(
    name for name, info in Settings.model_fields.items()
    if isinstance(info.annotation, type) and issubclass(info.annotation, _Group)
)
# Every setting by the name people know it by (the flat TOML key, CALLBRIDGE_<NAME>), in the
# order they were declared before the groups (the reload's log lists changes in this order).
SETTING_NAMES: tuple[str, ...] = (
    "database_url", "listen", "mango_api_key", "mango_api_salt", "mango_api_url", "mango_prefix", "api_token",
    "timezone", "default_region", "state_dir", "runtime_dir", "db_pool_min", "db_pool_max",
    "db_command_timeout_s", "db_jit", "pbx_request_timeout_s", "spool_enabled", "db_budget_s", "max_in_flight",
    "office_hours", "holidays", "administrator_extension", "line_rules", "route_rate_per_s", "ivr_hold_s",
    "log_format", "log_level", "db_connect_attempts", "pbx_stats_poll_interval_s", "report_day_end",
    "report_working_days", "report_lookback_days", "report_max_window_days", "inbox_retention_days",
    "inbox_prune_batch", "smtp_host", "smtp_port", "smtp_security", "smtp_username", "smtp_password",
    "smtp_timeout_s", "report_email_from", "report_email_to", "pbx_allowed_networks", "trusted_proxies",
    "max_concurrent_requests", "request_timeout_s", "http_keepalive_timeout_s", "sources", "utm_sources",
    "conversation_idle_s", "agency_emails", "lead_stale_days", "lead_lost_reasons", "tag_regular_min_trips",
    "tag_regular_months", "tag_cold_months", "trip_statuses", "lost_client_trip_months",
    "lost_client_silence_months", "reply_poll_interval_s", "reply_send_timeout_s", "reply_give_up_after_h",
    "reply_concurrency", "reply_retry_base_s", "auto_reply_every_h", "templates",
    "sla_first_response_minutes", "sla_channels", "sla_escalate_after_minutes",
    "sla_notify_email", "assignment_mode", "assignment_cap",
    "funnel_stages", "funnel_paid_stage", "funnel_trip_stage",
    "campaign_refusal_reasons", "campaign_claim_days", "task_birthday_days_ahead", "task_after_trip_days",
    "task_next_season_days", "nightly_at", "nightly_in_daemon",
)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the TOML file named by CALLBRIDGE_CONFIG (if any), then CALLBRIDGE_* variables.

    The variables win over the file. Raises SettingsError with one line naming
    the first bad setting.
    """
    env = os.environ if environ is None else environ
    toml_file = env.get(CONFIG_ENV) or None
    if toml_file and not Path(toml_file).is_file():
        raise SettingsError(f"{CONFIG_ENV}: no such file {toml_file!r}")
    from_env: dict[str, Any] = {}
    for group in GROUPS:  # the grouped spelling: CALLBRIDGE_LEADS__STALE_DAYS
        table = {f: env[f"{ENV_PREFIX}{group.upper()}__{f.upper()}"]
                 for f in _group_fields(group) if env.get(f"{ENV_PREFIX}{group.upper()}__{f.upper()}")}
        if table:
            from_env[group] = table
    for name in [*Settings.model_fields, *FLAT_NAMES]:  # and the flat one: CALLBRIDGE_LEAD_STALE_DAYS
        if name not in GROUPS and env.get(f"{ENV_PREFIX}{name.upper()}"):
            from_env[name] = env[f"{ENV_PREFIX}{name.upper()}"]
    try:
        return Settings(_toml_file=toml_file, **from_env)  # type: ignore[call-arg]
    except ValidationError as exc:
        raise SettingsError(_first_error_line(exc)) from exc
    except ValueError as exc:  # a TOML syntax error
        raise SettingsError(f"{CONFIG_ENV}: {toml_file}: {exc}") from exc


def _group_fields(group: str) -> list[str]:
    annotation = Settings.model_fields[group].annotation
    assert annotation is not None
    return list(annotation.model_fields)


def _first_error_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = [str(part) for part in err["loc"]]
    if len(loc) >= 2 and (loc[0], loc[1]) in NESTED_NAMES:  # named as people know it
        loc = [NESTED_NAMES[loc[0], loc[1]], *loc[2:]]
    name = ".".join(loc) or "settings"
    if err["type"] == "extra_forbidden":
        return f"setting {name}: unknown setting"
    return f"setting {name} (CALLBRIDGE_{name.upper()}): {err['msg']}"


def setting_source(name: str, environ: Mapping[str, str] | None = None) -> str:
    """Where a person changes the setting ``name`` (a flat name such as ``api_token``):
    the environment variable that set it, else the TOML file (and its table) named by
    CALLBRIDGE_CONFIG, else that variable to set. Used by the daemon's ready line."""
    env = os.environ if environ is None else environ
    group, field = FLAT_NAMES.get(name, (None, name))
    variables = [f"{ENV_PREFIX}{name.upper()}"]
    if group is not None:
        variables.append(f"{ENV_PREFIX}{group.upper()}__{field.upper()}")
    for variable in variables:
        if env.get(variable):
            return variable
    toml_file = env.get(CONFIG_ENV)
    if toml_file:
        return f"{toml_file} ([{group}] {field})" if group else f"{toml_file} ({field})"
    return variables[0]
