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


SourceKind = Literal["tilda", "form", "jivo", "telegram", "vk", "email", "api"]
SOURCE_NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"
# Kinds whose sender proves itself with the configured secret (docs/CHANNELS.md).
KINDS_WITH_SECRET = frozenset({"tilda", "form", "jivo", "telegram", "vk"})


class SourceSettings(BaseModel):
    """One ``[sources.<name>]``: a sender of inquiries and how it proves itself.

    ``secret``: Tilda, form and Jivo give it as ``?token=`` (a form may send
    ``Authorization: Bearer``), Telegram as ``X-Telegram-Bot-Api-Secret-Token``,
    VK as the ``secret`` field of the body. ``confirmation``: VK's code for the
    server-address handshake. The ``imap_*`` settings are read by the e-mail
    poller of ``email`` sources.
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


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        extra="forbid", frozen=True)

    database_url: str | None = None
    listen: str = "127.0.0.1:8080"
    mango_api_key: SecretStr | None = None
    mango_api_salt: SecretStr | None = None
    mango_api_url: str = "https://app.mango-office.ru/vpbx/"
    mango_prefix: str = "/mango"
    api_token: SecretStr | None = None
    timezone: str = "Europe/Moscow"
    default_region: str = "RU"
    state_dir: Path = Field(default_factory=_default_state_dir)
    # Where a daemon on an embedded PostgreSQL says which one it uses, so that commands run
    # from the same directory use it too (daemon/dbchoice.py); per user, not per configuration.
    runtime_dir: Path = Field(default_factory=_default_runtime_dir)
    db_pool_min: int = Field(default=2, ge=1)
    db_pool_max: int = Field(default=10, ge=1)
    db_command_timeout_s: float = Field(default=5.0, gt=0)
    # PostgreSQL's JIT compiler for the daemon's and the CLI's connections. Off: the
    # reads a person opens (analytics, duplicates, reports) are estimated far above
    # jit_above_cost, and compiling took longer than running them (1.2 s of JIT for
    # a 0.4 s analytics query at a mid-size agency; docs/BENCHMARKS.md, «Reads»).
    db_jit: bool = False
    pbx_request_timeout_s: float = Field(default=5.0, gt=0)
    spool_enabled: bool = True
    db_budget_s: float = Field(default=2.0, gt=0)
    max_in_flight: int = Field(default=256, ge=1)
    # Routing (office hours are in `timezone`; outside them nothing is routed).
    office_hours: dict[str, str] = Field(default_factory=dict)
    holidays: list[date] = Field(default_factory=list)
    administrator_extension: str | None = None
    line_rules: dict[str, str] = Field(default_factory=dict)
    route_rate_per_s: float = Field(default=0.5, gt=0)  # the PBX allows 1 route per 2 s
    ivr_hold_s: float = Field(default=8.0, gt=0)
    log_format: str = Field(default="auto", pattern="^(auto|json|console)$")
    log_level: str = Field(default="info", pattern="^(debug|info|warning|error)$")
    # Operations: start-up, the missed-call report and its e-mail.
    db_connect_attempts: int = Field(default=10, ge=1)
    # stats/result is polled no more than once per 5 s (the PBX's manual).
    pbx_stats_poll_interval_s: float = Field(default=5.0, gt=0)
    # The morning report covers the time since the office last closed: the end of
    # office_hours when set, else report_day_end (office time) on report_working_days.
    report_day_end: str = Field(default="19:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    report_working_days: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri")
    # The morning report and the screen list every caller missed within
    # this many days and not reached back since (the night's first); any report
    # window longer than report_max_window_days is refused.
    report_lookback_days: int = Field(default=7, ge=1, le=93)
    report_max_window_days: int = Field(default=93, ge=1, le=3660)
    # Raw PBX events older than this are pruned from the inbox (`callbridge prune`
    # and the daemon's daily pass); derived rows are kept. 0 keeps them forever.
    inbox_retention_days: int = Field(default=180, ge=0)
    inbox_prune_batch: int = Field(default=5000, ge=1, le=100_000)
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: str = Field(default="starttls", pattern="^(none|starttls|tls)$")
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout_s: float = Field(default=30.0, gt=0)
    report_email_from: str | None = None
    report_email_to: tuple[str, ...] = ()
    # Security: who may post PBX events, and what any client may ask at once.
    # Empty pbx_allowed_networks lets any source post (the signature is checked anyway).
    pbx_allowed_networks: list[str] = Field(default_factory=list)
    trusted_proxies: list[str] = Field(default_factory=list)  # whose X-Forwarded-For is believed
    max_concurrent_requests: int = Field(default=1024, ge=1)
    request_timeout_s: float = Field(default=30.0, gt=0)
    # Idle keep-alive connections are closed after this long (each holds a descriptor).
    http_keepalive_timeout_s: float = Field(default=15.0, gt=0)
    # Inquiries: the senders, utm_source -> ad source, and how long a
    # chat may be silent before its next message starts a new communication.
    sources: dict[str, SourceSettings] = Field(default_factory=dict)
    utm_sources: dict[str, str] = Field(default_factory=dict)
    conversation_idle_s: float = Field(default=7200.0, gt=0)
    # The agency's own e-mail addresses: never taken for a client's (e-mail inquiries).
    agency_emails: tuple[str, ...] = ()
    # Leads, tags, trips and lost clients.
    lead_stale_days: int = Field(default=30, ge=1)  # no activity this long: the lead is archived
    lead_lost_reasons: tuple[str, ...] = DEFAULT_LOST_REASONS
    tag_regular_min_trips: int = Field(default=3, ge=1)  # «постоянный турист»: paid trips ...
    tag_regular_months: int = Field(default=24, ge=1)  # ... that started within this many months
    tag_cold_months: int = Field(default=18, ge=1)  # «холодный»: no communication and no trip
    # Booking-system status (compared lower-cased, trimmed) -> paid | cancelled | pending.
    trip_statuses: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_TRIP_STATUSES))
    lost_client_trip_months: int = Field(default=12, ge=1)  # last trip ended longer ago than this
    lost_client_silence_months: int = Field(default=6, ge=1)  # and no communication for this long

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = init_settings.init_kwargs.pop("_toml_file", None)  # type: ignore[attr-defined]
        # The environment is read by load_settings (so tests can pass a mapping);
        # it arrives here as init arguments, which therefore win over the file.
        sources: list[PydanticBaseSettingsSource] = [init_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    @field_validator("sources", "utm_sources", mode="before")
    @classmethod
    def _json_table(cls, value: object) -> object:
        """A TOML table, or JSON in an environment variable."""
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise ValueError("expected a TOML table, or a JSON object in the variable") from None
        return value

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

    @field_validator("listen")
    @classmethod
    def _listen_is_host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("expected HOST:PORT, e.g. 127.0.0.1:8080")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone_exists(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

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

    @field_validator("default_region")
    @classmethod
    def _region_known(cls, value: str) -> str:
        if value.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"unknown region {value!r}, expected a code such as RU")
        return value.upper()

    @field_validator("report_working_days", "report_email_to", "lead_lost_reasons", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        """A list in TOML, or ``a,b,c`` in an environment variable."""
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("pbx_allowed_networks", "trusted_proxies", mode="before")
    @classmethod
    def _network_list(cls, value: object) -> object:
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

    @field_validator("trip_statuses")
    @classmethod
    def _trip_statuses_known(cls, value: dict[str, str]) -> dict[str, str]:
        bad = sorted({v for v in value.values() if v not in ("paid", "cancelled", "pending")})
        if bad:
            raise ValueError(f"statuses map to paid, cancelled or pending; got {bad}")
        return {k.strip().lower(): v for k, v in value.items()}

    @field_validator("report_working_days")
    @classmethod
    def _weekday_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        names = tuple(day.lower()[:3] for day in value)
        unknown = [day for day in names if day not in WEEKDAYS]
        if unknown or not names:
            raise ValueError(f"expected weekday names such as mon,tue,wed; got {list(value)}")
        return names

    @field_validator("mango_prefix")
    @classmethod
    def _prefix_is_path(cls, value: str) -> str:
        if not value.startswith("/") or value.endswith("/") and value != "/":
            raise ValueError("expected a path such as /mango")
        return value.rstrip("/")

    @field_validator("mango_api_url")
    @classmethod
    def _url_has_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an http(s) URL")
        return value if value.endswith("/") else value + "/"

    @property
    def listen_host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def listen_port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def require(self, *names: str) -> None:
        """Stop with a clear line when a setting a command needs is not set."""
        for name in names:
            if getattr(self, name) is None:
                raise SettingsError(
                    f"setting {name} is required: set CALLBRIDGE_{name.upper()} "
                    f"or {name} in the file named by {CONFIG_ENV}"
                )

    def secret(self, name: str) -> str:
        value = getattr(self, name)
        if value is None:
            self.require(name)
        return value.get_secret_value()


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read the TOML file named by CALLBRIDGE_CONFIG (if any), then CALLBRIDGE_* variables.

    The variables win over the file. Raises SettingsError with one line naming
    the first bad setting.
    """
    env = os.environ if environ is None else environ
    toml_file = env.get(CONFIG_ENV) or None
    if toml_file and not Path(toml_file).is_file():
        raise SettingsError(f"{CONFIG_ENV}: no such file {toml_file!r}")
    from_env: dict[str, Any] = {
        name: env[f"{ENV_PREFIX}{name.upper()}"]
        for name in Settings.model_fields
        if env.get(f"{ENV_PREFIX}{name.upper()}")
    }
    try:
        return Settings(_toml_file=toml_file, **from_env)  # type: ignore[call-arg]
    except ValidationError as exc:
        raise SettingsError(_first_error_line(exc)) from exc
    except ValueError as exc:  # a TOML syntax error
        raise SettingsError(f"{CONFIG_ENV}: {toml_file}: {exc}") from exc


def _first_error_line(exc: ValidationError) -> str:
    err = exc.errors()[0]
    name = ".".join(str(part) for part in err["loc"]) or "settings"
    if err["type"] == "extra_forbidden":
        return f"setting {name}: unknown setting"
    return f"setting {name} (CALLBRIDGE_{name.upper()}): {err['msg']}"
