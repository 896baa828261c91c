"""Settings from the environment (and `storybridge run` options), named as in CONTRACT.md."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_BASE_URL = "https://sleeperhit.studio/api/v1"

# Deliveries kept for failures of the bridge's own plumbing (crash loops, NATS hiccups) on top of
# the retry schedule: past them a message is dead-lettered rather than redelivered forever.
PLUMBING_DELIVERIES = 10


def retry_delay(attempt: int, base: float, cap: float) -> float:
    """Seconds before durable try `attempt + 1` after `attempt` retryable failures: doubling, capped."""
    return float(min(cap, base * 2 ** min(max(0, attempt - 1), 32)))


def retry_deliveries(deadline: float, base: float, cap: float) -> int:
    """How many deliveries the retry schedule needs to reach `deadline` seconds."""
    elapsed, attempt = 0.0, 0
    while elapsed < deadline:
        attempt += 1
        elapsed += retry_delay(attempt, base, cap)
    return attempt + 1


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
    command_extra_fields: Literal["pass", "forbid"] = Field(
        default="pass",
        description=(
            "STORYBRIDGE_COMMAND_EXTRA_FIELDS: `pass` sends a top-level command field the bridge "
            "does not know to the API (the API grows additively; the bridge must not block a field "
            "it shipped yesterday); `forbid` refuses it. A likely typo of a known field is refused "
            "under both (see schemas/extra_fields.py)."
        ),
    )
    max_in_flight: int = 32
    ack_wait_seconds: float = 30.0
    # None: enough deliveries for the retry schedule to reach the deadline, plus
    # PLUMBING_DELIVERIES for failures of our own (see `effective_max_deliver`).
    max_deliver: int | None = None
    request_timeout_seconds: float = 30.0
    retry_budget_seconds: float = 60.0
    shutdown_grace_seconds: float = 20.0

    # --- durable retries and dead letters (CONTRACT.md, "No command is lost") -----------------
    command_deadline_seconds: float = Field(default=86400.0, gt=0)
    command_retry_base_seconds: float = Field(default=5.0, gt=0)
    command_retry_max_seconds: float = Field(default=300.0, gt=0)

    # --- circuits -------------------------------------------------------------------------------
    circuit_probe_seconds: float = Field(default=60.0, gt=0)

    # --- API pacing -----------------------------------------------------------------------------
    rate_limit_per_minute: int = 120

    # --- events / watches --------------------------------------------------------------------
    events_duplicate_window_seconds: float = 300.0
    discovery_interval_seconds: float = 0.0  # 0 = discovery off
    stall_after_failures: int = 5
    gone_after_not_found: int = Field(default=3, ge=1)
    watch_max_age_seconds: float = Field(default=21600.0, gt=0)
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
    def effective_max_deliver(self) -> int:
        """The consumer's max_deliver: never the thing that cuts a retry schedule short."""
        if self.max_deliver is not None:
            return self.max_deliver
        return (
            retry_deliveries(
                self.command_deadline_seconds,
                self.command_retry_base_seconds,
                self.command_retry_max_seconds,
            )
            + PLUMBING_DELIVERIES
        )

    @property
    def nats_servers(self) -> list[str]:
        return [u.strip() for u in (self.nats_url or "").split(",") if u.strip()]
