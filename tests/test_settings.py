"""One settings object: TOML file, overridden by CALLBRIDGE_* variables, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import SettingsError, load_settings


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
    root = Path(__file__).parent.parent
    for name in ("callbridge.example.toml", "trial.toml"):
        load_settings({"CALLBRIDGE_CONFIG": str(root / "config" / name)})
