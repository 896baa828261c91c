"""`storybridge run`'s options are generated from `BridgeSettings` (issue 24: "run options generated
from BridgeSettings rather than listed twice"): every setting is an option, its help names the
variable it is also read from, a given option goes on top of the environment, and a bad value is
one line naming the setting, not a traceback."""

from __future__ import annotations

import pytest
import typer.main
from typer.testing import CliRunner

from bridge import plugins
from bridge.cli.app import app
from bridge.cli.settings_options import env_name, settings_from
from bridge.config import BridgeSettings
from bridge.plugins import own_settings
from bridge.providers.syllaby.settings import SyllabySettings

RUN = typer.main.get_command(app).commands["run"]  # type: ignore[attr-defined]
OPTIONS = {param.name: param for param in RUN.params}


@pytest.mark.parametrize("name", [n for n in BridgeSettings.model_fields if n != "providers"])
def test_every_setting_is_a_run_option_naming_its_variable(name: str) -> None:
    field = BridgeSettings.model_fields[name]
    option = OPTIONS[name]
    assert option.opts == ["--" + name.replace("_", "-")]
    assert env_name(BridgeSettings, name, field) in (option.help or "")


def test_the_contract_names_are_the_variables_shown() -> None:
    fields = BridgeSettings.model_fields
    assert env_name(BridgeSettings, "api_key", fields["api_key"]) == "SLEEPERHIT_API_KEY"
    own = SyllabySettings.model_fields
    assert env_name(SyllabySettings, "api_token", own["api_token"]) == "SYLLABY_API_TOKEN"
    assert env_name(SyllabySettings, "rate_limit_per_minute", own["rate_limit_per_minute"]) == (
        "STORYBRIDGE_SYLLABY_RATE_LIMIT_PER_MINUTE"
    )
    assert env_name(BridgeSettings, "max_in_flight", fields["max_in_flight"]) == (
        "STORYBRIDGE_MAX_IN_FLIGHT"
    )


@pytest.mark.parametrize("name", list(SyllabySettings.model_fields))
def test_a_providers_own_settings_are_options_under_its_name(name: str) -> None:
    option = OPTIONS[f"syllaby_{name}"]
    assert option.opts == ["--syllaby-" + name.replace("_", "-")]
    assert env_name(SyllabySettings, name, SyllabySettings.model_fields[name]) in (
        option.help or ""
    )


def test_a_providers_option_reaches_its_own_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYLLABY_BASE_URL", "https://env.example/v2")
    given = {"syllaby_rate_limit_per_minute": 12, "syllaby_base_url": None, "max_in_flight": 3}
    settings = settings_from(BridgeSettings, given)
    assert settings.max_in_flight == 3
    own = own_settings(plugins.provider("syllaby"), settings)
    assert own.rate_limit_per_minute == 12  # given
    assert own.base_url == "https://env.example/v2"  # not given: its environment decides


def test_sandbox_is_a_flag_and_other_switches_go_both_ways() -> None:
    assert OPTIONS["sandbox"].is_flag and OPTIONS["sandbox"].secondary_opts == []
    assert OPTIONS["tracing"].secondary_opts == ["--no-tracing"]


def test_a_given_option_goes_on_top_of_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORYBRIDGE_MAX_IN_FLIGHT", "5")
    monkeypatch.setenv("STORYBRIDGE_HTTP_PORT", "9191")
    settings = settings_from(BridgeSettings, {"max_in_flight": 7, "http_port": None})
    assert settings.max_in_flight == 7  # given
    assert settings.http_port == 9191  # not given: the environment decides


def test_a_bad_value_is_one_line_naming_the_setting() -> None:
    result = CliRunner().invoke(app, ["run", "--log-format", "xml"])
    assert result.exit_code == 2
    assert "log_format" in result.output
    assert "Traceback" not in result.output


def test_only_the_contracts_names_are_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A container's unrelated API_TOKEN, API_KEY or BASE_URL must not switch a provider on or point
    it elsewhere: each setting reads its contract name (and its prefixed name) only."""
    monkeypatch.setenv("API_TOKEN", "3|unrelatedsecret")
    monkeypatch.setenv("API_KEY", "unrelated")
    monkeypatch.setenv("BASE_URL", "http://elsewhere.example")
    own = SyllabySettings()
    assert own.api_token is None and own.base_url is None
    core = BridgeSettings()
    assert core.api_key is None and core.base_url != "http://elsewhere.example"
    # By field name in code (own_settings passes the options given that way) still works.
    assert SyllabySettings(api_token="3|x" * 4).api_token is not None


def test_a_token_given_as_an_option_stays_a_secret() -> None:
    settings = settings_from(BridgeSettings, {"syllaby_api_token": "5|optionsecretvalue"})
    assert "optionsecretvalue" not in repr(settings)
    own = own_settings(plugins.provider("syllaby"), settings)
    assert own.api_token.get_secret_value() == "5|optionsecretvalue"


def test_a_bad_provider_setting_is_one_line_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STORYBRIDGE_SYLLABY_RATE_LIMIT_PER_MINUTE", "1")
    result = CliRunner().invoke(app, ["run"])
    assert result.exit_code == 2
    assert "SyllabySettings.rate_limit_per_minute" in result.output
    assert "Traceback" not in result.output
