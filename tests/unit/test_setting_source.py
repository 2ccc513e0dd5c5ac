"""Where a person changes a setting: the ready line of ``make run`` names it for the API token."""

from __future__ import annotations

from config.settings import load_settings, setting_source
from daemon.runtime.process import screen_url


def test_the_variable_wins_then_the_file_then_the_variable_to_set() -> None:
    assert setting_source("api_token", {"CALLBRIDGE_API_TOKEN": "x", "CALLBRIDGE_CONFIG": "a.toml"}) == (
        "CALLBRIDGE_API_TOKEN")
    assert setting_source("api_token", {"CALLBRIDGE_HTTP__API_TOKEN": "x"}) == "CALLBRIDGE_HTTP__API_TOKEN"
    assert setting_source("api_token", {"CALLBRIDGE_CONFIG": "config/trial.toml"}) == (
        "config/trial.toml ([http] api_token)")
    assert setting_source("api_token", {}) == "CALLBRIDGE_API_TOKEN"


def test_the_screen_is_named_as_a_browser_here_opens_it() -> None:
    assert screen_url(load_settings({"CALLBRIDGE_LISTEN": "127.0.0.1:8090"})) == "http://127.0.0.1:8090/ui/"
    assert screen_url(load_settings({"CALLBRIDGE_LISTEN": "0.0.0.0:8080"})) == "http://127.0.0.1:8080/ui/"
    assert screen_url(load_settings({"CALLBRIDGE_LISTEN": "[::1]:8080"})) == "http://[::1]:8080/ui/"
