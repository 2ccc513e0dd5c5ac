"""Reloading the settings on SIGHUP, and the hooks that pick up the new ones.

The settings object is frozen and ``app[SETTINGS]`` keeps the one the daemon
started with (the listen address, the database, the secrets only change with
a restart). What may change while running (working hours, routing rules,
lines, report settings) is read from ``Reloader.current``, and a part that
keeps state built from settings subscribes a hook that rebuilds it:

    app[RELOADER].subscribe(lambda old, new: rules.replace(new.routing))

Hooks run one after the other on the event loop, between requests, so no
request sees half of a reload. A hook that fails is logged and the others
still run; a settings file that fails to load leaves everything as it was.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog
from pydantic import SecretStr

from config.settings import SETTING_NAMES, Settings, SettingsError

log = structlog.get_logger(__name__)

ReloadHook = Callable[[Settings, Settings], Awaitable[None] | None]
SettingsLoader = Callable[[], Settings]

# Taken once at start-up (the server, the pool, the intake, the PBX client and
# the middlewares are built with them): a change needs a restart to take effect.
RESTART_ONLY = frozenset(
    {
        "database_url",
        "listen",
        "mango_api_key",
        "mango_api_salt",
        "mango_api_url",
        "mango_prefix",
        "api_token",
        "default_region",
        "state_dir",
        "db_pool_min",
        "db_pool_max",
        "db_command_timeout_s",
        "db_jit",  # a setting of the pool's connections, made at start (and on reconnect, from the same)
        "runtime_dir",  # where this daemon noted its embedded PostgreSQL at start
        "db_connect_attempts",
        "spool_enabled",
        "db_budget_s",
        "http_keepalive_timeout_s",
        "max_in_flight",
        "log_format",
        "log_level",
        "pbx_allowed_networks",
        "trusted_proxies",
        "max_concurrent_requests",
        "request_timeout_s",
    }
)
# Every other setting is read at use from ``Reloader.current`` (or rebuilt by a hook), so a
# SIGHUP reaches every reader; config/callbridge.example.toml lists them (tests/integration/test_settings_reload.py).
RELOADABLE = tuple(name for name in SETTING_NAMES if name not in RESTART_ONLY)
# Never logged with their values: secrets, and URLs that may hold a password.
_VALUE_HIDDEN = frozenset({"database_url"})


@dataclass(frozen=True)
class ReloadResult:
    ok: bool
    changed: tuple[str, ...] = ()
    needs_restart: tuple[str, ...] = ()
    failed_hooks: tuple[str, ...] = ()
    error: str | None = None
    details: dict[str, object] = field(default_factory=dict)


def changed_fields(old: Settings, new: Settings) -> list[str]:
    """The settings that differ, by the names people know them by (``lead_stale_days``)."""
    return [name for name in SETTING_NAMES if old.value(name) != new.value(name)]


def describe_change(name: str, old: Settings, new: Settings) -> object:
    """What the log may say about a changed setting: values, unless it is secret."""
    before, after = old.value(name), new.value(name)
    if name in _VALUE_HIDDEN or isinstance(before, SecretStr) or isinstance(after, SecretStr):
        return "changed (value not shown)"
    return {"from": _plain(before), "to": _plain(after)}


def _plain(value: object) -> object:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


class Reloader:
    """The current settings, and the hooks to call when they change."""

    def __init__(self, settings: Settings) -> None:
        self.current = settings
        self._hooks: list[ReloadHook] = []

    def subscribe(self, hook: ReloadHook) -> None:
        """Call ``hook(old, new)`` after every successful reload."""
        self._hooks.append(hook)

    async def reload(self, load: SettingsLoader) -> ReloadResult:
        """Re-read the settings with ``load`` and hand them to the hooks."""
        try:
            new = load()
        except SettingsError as exc:
            log.error("settings_reload_failed", error=str(exc))
            return ReloadResult(ok=False, error=str(exc))
        old = self.current
        changed = changed_fields(old, new)
        details = {name: describe_change(name, old, new) for name in changed}
        needs_restart = tuple(name for name in changed if name in RESTART_ONLY)
        self.current = new
        failed = []
        for hook in self._hooks:
            try:
                outcome = hook(old, new)
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception:  # one part's bug must not stop the others from reloading
                name = getattr(hook, "__qualname__", repr(hook))
                log.exception("reload_hook_failed", hook=name)
                failed.append(name)
        log.info(
            "settings_reloaded",
            changed=changed,
            details=details,
            needs_restart=list(needs_restart),
            hooks=len(self._hooks),
            failed_hooks=failed,
        )
        if needs_restart:
            log.warning("settings_need_restart", settings=list(needs_restart))
        return ReloadResult(
            ok=not failed,
            changed=tuple(changed),
            needs_restart=needs_restart,
            failed_hooks=tuple(failed),
            details=details,
        )
