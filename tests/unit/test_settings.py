"""One settings object: TOML file, overridden by CALLBRIDGE_* variables, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import FLAT_NAMES, GROUPS, SETTING_NAMES, Settings, SettingsError, load_settings
from tests.support.paths import REPO


def test_defaults() -> None:
    s = load_settings({})
    assert s.http.listen == "127.0.0.1:8080" and (s.http.listen_host, s.http.listen_port) == ("127.0.0.1", 8080)
    assert s.mango.api_url == "https://app.mango-office.ru/vpbx/"
    assert (s.timezone, s.default_region, s.mango.prefix) == ("Europe/Moscow", "RU", "/mango")
    assert s.database.url is None and s.http.api_token is None
    assert s.state_dir.name == "callbridge"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    toml = tmp_path / "cb.toml"
    toml.write_text('listen = "0.0.0.0:9000"\ntimezone = "Asia/Yekaterinburg"\napi_token = "from-file"\n')
    s = load_settings({"CALLBRIDGE_CONFIG": str(toml), "CALLBRIDGE_LISTEN": "127.0.0.1:9100"})
    assert s.http.listen_port == 9100
    assert s.timezone == "Asia/Yekaterinburg"
    assert s.secret("api_token") == "from-file"


def test_secrets_are_not_in_the_repr() -> None:
    s = load_settings({"CALLBRIDGE_MANGO_API_SALT": "very-secret-salt", "CALLBRIDGE_API_TOKEN": "tok-123"})
    assert "very-secret-salt" not in repr(s) and "tok-123" not in repr(s)
    assert s.secret("mango_api_salt") == "very-secret-salt"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"CALLBRIDGE_LISTEN": "8080"}, "listen"),
        ({"CALLBRIDGE_LISTEN": "host:99999"}, "listen"),
        ({"CALLBRIDGE_TIMEZONE": "Mars/Olympus"}, "timezone"),
        ({"CALLBRIDGE_DEFAULT_REGION": "XX"}, "default_region"),
        ({"CALLBRIDGE_MANGO_API_URL": "ftp://x"}, "mango_api_url"),
        ({"CALLBRIDGE_DB_POOL_MAX": "lots"}, "db_pool_max"),
        ({"CALLBRIDGE_CONFIG": "/nonexistent/cb.toml"}, "CALLBRIDGE_CONFIG"),
    ],
)
def test_invalid_setting_is_one_line_naming_it(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(env)
    message = str(err.value)
    assert named in message and "\n" not in message


def test_unknown_key_in_the_file_is_named(tmp_path: Path) -> None:
    toml = tmp_path / "cb.toml"
    toml.write_text('lisen = "127.0.0.1:1"\n')
    with pytest.raises(SettingsError, match="lisen"):
        load_settings({"CALLBRIDGE_CONFIG": str(toml)})


def test_broken_toml_is_named(tmp_path: Path) -> None:
    toml = tmp_path / "cb.toml"
    toml.write_text('listen = "unterminated\n')
    with pytest.raises(SettingsError, match="CALLBRIDGE_CONFIG"):
        load_settings({"CALLBRIDGE_CONFIG": str(toml)})


def test_require_names_the_missing_secret() -> None:
    with pytest.raises(SettingsError, match="CALLBRIDGE_MANGO_API_KEY"):
        load_settings({}).require("mango_api_key")


def test_shipped_config_files_load() -> None:
    root = REPO
    for name in ("callbridge.example.toml", "trial.toml"):
        load_settings({"CALLBRIDGE_CONFIG": str(root / "config" / name)})


GROUPED_TOML = """
timezone = "Asia/Omsk"
[leads]
stale_days = 12
[http]
listen = "127.0.0.1:9200"
[report]
working_days = ["mon", "sat"]
[mango]
allowed_networks = ["81.88.80.132"]
[inquiries.sources.tg-bot]
kind = "telegram"
secret = "grouped-secret"
"""
FLAT_TOML = """
timezone = "Asia/Omsk"
lead_stale_days = 12
listen = "127.0.0.1:9200"
report_working_days = ["mon", "sat"]
pbx_allowed_networks = ["81.88.80.132"]
[sources.tg-bot]
kind = "telegram"
secret = "grouped-secret"
"""


@pytest.mark.parametrize("text", [GROUPED_TOML, FLAT_TOML], ids=["grouped", "flat"])
def test_grouped_tables_and_flat_keys_say_the_same(tmp_path: Path, text: str) -> None:
    """The file may name a setting in its group's table or by its flat name of before the groups."""
    toml = tmp_path / "cb.toml"
    toml.write_text(text)
    s = load_settings({"CALLBRIDGE_CONFIG": str(toml)})
    assert (s.leads.stale_days, s.http.listen_port, s.report.working_days) == (12, 9200, ("mon", "sat"))
    assert s.mango.allowed_networks == ["81.88.80.132"] and s.timezone == "Asia/Omsk"
    assert s.inquiries.sources["tg-bot"].secret is not None
    assert s.inquiries.sources["tg-bot"].secret.get_secret_value() == "grouped-secret"


@pytest.mark.parametrize("env", [
    {"CALLBRIDGE_LEAD_STALE_DAYS": "9", "CALLBRIDGE_SMTP_PORT": "2525", "CALLBRIDGE_DB_POOL_MAX": "4",
     "CALLBRIDGE_REPORT_EMAIL_TO": "a@x.test,b@x.test"},
    {"CALLBRIDGE_LEADS__STALE_DAYS": "9", "CALLBRIDGE_SMTP__PORT": "2525", "CALLBRIDGE_DATABASE__POOL_MAX": "4",
     "CALLBRIDGE_REPORT__EMAIL_TO": "a@x.test,b@x.test"},
], ids=["flat", "grouped"])
def test_variables_flat_or_grouped(tmp_path: Path, env: dict[str, str]) -> None:
    """CALLBRIDGE_LEAD_STALE_DAYS as before, or CALLBRIDGE_LEADS__STALE_DAYS; either wins over the file."""
    toml = tmp_path / "cb.toml"
    toml.write_text("lead_stale_days = 30\n[smtp]\nport = 25\n")
    s = load_settings({"CALLBRIDGE_CONFIG": str(toml), **env})
    assert (s.leads.stale_days, s.smtp.port, s.database.pool_max) == (9, 2525, 4)
    assert s.report.email_to == ("a@x.test", "b@x.test")


def test_flat_construction_and_copy_land_in_the_groups() -> None:
    s = Settings(lead_stale_days=5, smtp_port=2525, listen="0.0.0.0:1")  # type: ignore[call-arg]
    assert (s.leads.stale_days, s.smtp.port, s.http.listen_port) == (5, 2525, 1)
    copy = s.model_copy(update={"lead_stale_days": 6, "timezone": "Asia/Omsk"})
    assert (copy.leads.stale_days, copy.smtp.port, copy.timezone) == (6, 2525, "Asia/Omsk")
    assert (copy.value("lead_stale_days"), copy.value("leads.stale_days")) == (6, 6)


@pytest.mark.parametrize("text,named", [
    ("lead_stale_dayz = 3\n", "lead_stale_dayz"),
    ("[leads]\nstale_dayz = 3\n", "leads.stale_dayz"),
    ("[nowhere]\nx = 1\n", "nowhere"),
])
def test_unknown_key_flat_or_grouped_is_named(tmp_path: Path, text: str, named: str) -> None:
    toml = tmp_path / "cb.toml"
    toml.write_text(text)
    with pytest.raises(SettingsError, match=rf"^setting {named}: unknown setting$"):
        load_settings({"CALLBRIDGE_CONFIG": str(toml)})


def test_an_invalid_grouped_value_is_named_as_people_know_it() -> None:
    with pytest.raises(SettingsError, match=r"^setting lead_stale_days \(CALLBRIDGE_LEAD_STALE_DAYS\): "):
        load_settings({"CALLBRIDGE_LEADS__STALE_DAYS": "0"})


def test_every_setting_has_one_known_name() -> None:
    """SETTING_NAMES (the reload's names) covers each top-level setting and each grouped one, once."""
    top = {name for name in Settings.model_fields if name not in GROUPS}
    assert len(SETTING_NAMES) == len(set(SETTING_NAMES)) and set(SETTING_NAMES) == top | set(FLAT_NAMES)
