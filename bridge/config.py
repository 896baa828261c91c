"""Settings from the environment (and `storybridge run` options), named as in CONTRACT.md."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_BASE_URL = "https://sleeperhit.studio/api/v1"


class Settings(BaseSettings):
    """Every knob of the bridge. Contract names first; the rest are storybridge additions."""

    model_config = SettingsConfigDict(
        env_prefix="STORYBRIDGE_", extra="ignore", populate_by_name=True
    )

    # --- contract ---------------------------------------------------------------------------
    api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SLEEPERHIT_API_KEY", "api_key")
    )
    base_url: str = Field(
        default=DEFAULT_BASE_URL, validation_alias=AliasChoices("SLEEPERHIT_BASE_URL", "base_url")
    )
    nats_url: str | None = None
    subject_prefix: str = "story"
    http_port: int = 8080
    log_format: Literal["json", "console"] = "json"
    sandbox: bool = False

    # --- intake -------------------------------------------------------------------------------
    max_command_bytes: int = 1024 * 1024
    max_in_flight: int = 32
    ack_wait_seconds: float = 30.0
    max_deliver: int = 10
    request_timeout_seconds: float = 30.0
    retry_budget_seconds: float = 60.0
    shutdown_grace_seconds: float = 20.0

    # --- API pacing -----------------------------------------------------------------------------
    rate_limit_per_minute: int = 120

    # --- events / watches --------------------------------------------------------------------
    events_duplicate_window_seconds: float = 300.0
    discovery_interval_seconds: float = 0.0  # 0 = discovery off
    stall_after_failures: int = 5
    watch_lease_seconds: float = 15.0
    poll_interval_scale: float | None = None  # None: 1.0, or faster with the sandbox's fast clock

    # --- tracing ------------------------------------------------------------------------------
    tracing: bool = Field(
        default=False,
        description=(
            "STORYBRIDGE_TRACING: OpenTelemetry tracing, command -> API call -> events, with W3C "
            "`traceparent` in NATS and HTTP headers. Off by default; also on when the standard "
            "OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_TRACES_EXPORTER "
            "(otlp, console) is set; OTEL_SDK_DISABLED=true turns it off. Exports over OTLP/HTTP "
            "as the OTEL_* variables say; needs the `otel` extra (storybridge[otel])."
        ),
    )

    # --- embedded NATS --------------------------------------------------------------------------
    data_dir: Path = Path(".storybridge")
    nats_port: int = 4222  # taken when free, else any free port

    @field_validator("subject_prefix")
    @classmethod
    def _one_token(cls, value: str) -> str:
        if not value or any(ch in value for ch in ".*> \t"):
            raise ValueError("subject prefix must be one NATS token (no '.', '*', '>' or spaces)")
        return value

    @property
    def nats_servers(self) -> list[str]:
        return [u.strip() for u in (self.nats_url or "").split(",") if u.strip()]
