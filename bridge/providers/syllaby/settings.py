"""Syllaby's own settings (CONTRACT.md, "The second provider"): the provider's, not the core's.

The contract's names stay: `SYLLABY_API_TOKEN` and `SYLLABY_BASE_URL` as they are, the rest under
the provider's prefix `STORYBRIDGE_SYLLABY_`. `storybridge run` offers each as
`--syllaby-<field>` (bridge/cli/settings_options.py), and a run's options reach it through
`BridgeSettings.providers["syllaby"]` (`bridge.plugins.own_settings`).
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class SyllabySettings(BaseSettings):
    # One alias each, the contract's name: a second one (`api_token`) would be read as an
    # environment variable too, so a container's unrelated API_TOKEN would turn Syllaby on.
    model_config = SettingsConfigDict(
        env_prefix="STORYBRIDGE_SYLLABY_",
        extra="ignore",
        populate_by_name=True,
        use_attribute_docstrings=True,
    )

    api_token: SecretStr | None = Field(default=None, validation_alias="SYLLABY_API_TOKEN")
    """Turns the Syllaby provider on (sent as `Authorization: Bearer`). A secret, like the Story
    key: prefer the environment."""
    base_url: str | None = Field(default=None, validation_alias="SYLLABY_BASE_URL")
    """What the reference's /text-to-scene paths are relative to; required with the token."""
    rate_limit_per_minute: int = Field(default=30, ge=2)
    """This replica's share of the token's budget (the API allows 30/min by default); commands go
    before polls."""
