"""Settings from the environment (and `storybridge run` options), named as in CONTRACT.md."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
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


class BridgeSettings(BaseSettings):
    """Every knob of the bridge. Contract names first; the rest are storybridge additions."""

    model_config = SettingsConfigDict(
        env_prefix="STORYBRIDGE_",
        extra="ignore",
        populate_by_name=True,
        # Each field's docstring is its description: `storybridge run --help` shows it.
        use_attribute_docstrings=True,
    )

    # --- contract ---------------------------------------------------------------------------
    api_key: SecretStr | None = Field(default=None, validation_alias="SLEEPERHIT_API_KEY")
    """The Story API key (`Authorization: Bearer`); prefer the environment. Not needed with --sandbox."""
    base_url: str = Field(default=DEFAULT_BASE_URL, validation_alias="SLEEPERHIT_BASE_URL")
    """The Story API base, /api/v1 included."""
    nats_url: str | None = None
    """NATS URL(s), comma-separated; none: an embedded nats-server is started."""
    subject_prefix: str = "story"
    """The first token of every subject (`{p}`)."""
    http_port: int = 8080
    """Port of /healthz, /readyz, /metrics and /asyncapi."""
    log_format: Literal["json", "console"] = "json"
    """Log lines as JSON or for a console."""
    sandbox: bool = False
    """Run against the bundled sandboxes (no key, no token needed)."""

    # --- providers -------------------------------------------------------------------------
    providers: dict[str, dict[str, Any]] = Field(default_factory=dict, repr=False)
    """Options given for the providers' own settings, by provider name (`storybridge run`'s
    `--<provider>-<field>`); each provider reads the rest from its own environment variables."""
    ledger_lease_seconds: float = Field(
        default=30.0,
        gt=0,
        description=(
            "STORYBRIDGE_LEDGER_LEASE_SECONDS: how long a command's ledger entry stays claimed "
            "without a renewal (renewed every third of it while the call runs). A repeat of the "
            "command waits that long for a crashed attempt before reconciling it."
        ),
    )

    # --- intake -------------------------------------------------------------------------------
    max_command_bytes: int = 1024 * 1024
    """The largest command payload accepted; larger ones are answered invalid_command."""
    max_outcome_bytes: int = Field(
        default=256 * 1024,
        ge=4096,
        description=(
            "STORYBRIDGE_MAX_OUTCOME_BYTES: the largest outcome document (reply and outcome event "
            "data); a `result` that would pass it is trimmed and flagged `resultTruncated: true`."
        ),
    )
    command_extra_fields: Literal["pass", "forbid"] = Field(
        default="pass",
        description=(
            "STORYBRIDGE_COMMAND_EXTRA_FIELDS: `pass` sends a top-level command field the bridge "
            "does not know to the API (the API grows additively; the bridge must not block a field "
            "it shipped yesterday); `forbid` refuses it. A likely typo of a known field is refused "
            "under both (see schemas/wire/extra_fields.py)."
        ),
    )
    max_in_flight: int = 32
    """Commands run at once by this replica."""
    ack_wait_seconds: float = 30.0
    """How long a durable command may run before NATS redelivers it (renewed while it runs)."""
    # None: enough deliveries for the retry schedule to reach the deadline, plus
    # PLUMBING_DELIVERIES for failures of our own (see `effective_max_deliver`).
    max_deliver: int | None = None
    """Deliveries of a durable command before it is dead-lettered (default: enough for the retry schedule to reach the deadline, plus some for the bridge's own failures)."""
    request_timeout_seconds: float = 30.0
    """Timeout of one API call."""
    retry_budget_seconds: float = 60.0
    """How long one attempt retries retryable API answers in-process."""
    shutdown_grace_seconds: float = 20.0
    """How long a stop waits for commands in flight."""

    # --- durable retries and dead letters (CONTRACT.md, "No command is lost") -----------------
    command_deadline_seconds: float = Field(default=86400.0, gt=0)
    """How long a retryable durable command is kept trying before it is dead-lettered."""
    command_retry_base_seconds: float = Field(default=5.0, gt=0)
    """First wait between durable tries; it doubles."""
    command_retry_max_seconds: float = Field(default=300.0, gt=0)
    """Longest wait between durable tries."""

    # --- isolation (CONTRACT.md, "One part never stalls the rest") -----------------------------
    route_probe_max_seconds: float = Field(
        default=30.0,
        gt=0,
        description=(
            "STORYBRIDGE_ROUTE_PROBE_MAX_SECONDS: a route that keeps failing (5xx, timeouts) is "
            "probed by one durable command at a time, after a backoff from "
            "STORYBRIDGE_COMMAND_RETRY_BASE_SECONDS doubling up to this; its other commands wait "
            "parked. So a recovery is noticed within this long."
        ),
    )
    route_max_in_flight: int | None = Field(
        default=None,
        ge=1,
        description=(
            "STORYBRIDGE_ROUTE_MAX_IN_FLIGHT: durable commands of one route running at once in "
            "each lane (default: three quarters of STORYBRIDGE_MAX_IN_FLIGHT), so a slow route "
            "gets a share of the slots, never all of them."
        ),
    )

    # --- circuits -------------------------------------------------------------------------------
    circuit_probe_seconds: float = Field(default=60.0, gt=0)
    """Seconds between probes while a provider's circuit is open."""

    # --- API pacing -----------------------------------------------------------------------------
    rate_limit_per_minute: int = 120
    """This replica's share of the Story key's request budget."""

    # --- events / watches --------------------------------------------------------------------
    events_duplicate_window_seconds: float = 300.0
    """The events stream's duplicate window (Nats-Msg-Id)."""
    discovery_interval_seconds: float = 0.0  # 0 = discovery off
    """Seconds between discovery sweeps; 0: discovery off."""
    discovery_budget_share: float = Field(
        default=0.2,
        gt=0,
        le=1,
        description=(
            "STORYBRIDGE_DISCOVERY_BUDGET_SHARE: the share of the poll budget discovery's list "
            "calls spend at most; a sweep that needs more takes longer (the interval stretches)."
        ),
    )
    stall_after_failures: int = 5
    """Failed reads in a row before a watch is reported stalled."""
    gone_after_not_found: int = Field(default=3, ge=1)
    """Not-found reads in a row before a watch ends as gone."""
    watch_max_age_seconds: float = Field(default=21600.0, gt=0)
    """A watch that saw nothing new this long ends as expired."""
    watch_lease_seconds: float = 15.0
    """How long a replica holds a shard of watches without renewing it."""
    poll_interval_scale: float | None = None  # None: 1.0, or faster with the sandbox's fast clock
    """Multiplies every poll interval (default 1.0; faster under the sandbox's fast clock)."""
    poll_budget_share: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description=(
            "STORYBRIDGE_POLL_BUDGET_SHARE: the share of the rate budget polls spend at most; "
            "what commands use beyond the rest is taken from the polls."
        ),
    )

    # --- credits ------------------------------------------------------------------------------
    credits_interval_seconds: float = Field(default=300.0, gt=0)  # GET /credits this often
    """How often GET /credits is read."""
    credits_low_threshold: float | None = None  # below it: one {p}.evt.credits.low per episode
    """Balance below which one credits.low is published per episode."""

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

    # --- NATS cluster and authentication ---------------------------------------------------
    # Applied to every stream and KV bucket the bridge declares (bridge/nats/streams.py); 3 on a
    # 3-node cluster so one node's loss keeps them available. Changes are applied in place.
    stream_replicas: int = Field(default=1, ge=1, le=5)
    """Replicas of every stream and KV bucket (3 on a 3-node cluster); applied in place."""
    nats_creds: Path | None = None  # a .creds file: user JWT + NKey seed (decentralized auth)
    """A NATS .creds file (user JWT and NKey seed)."""
    nats_nkey_seed: SecretStr | None = None
    """NKey seed; prefer the environment or --nats-nkey-seed-file."""
    nats_nkey_seed_file: Path | None = None
    """File holding the NKey seed (a mounted Secret)."""
    nats_token: SecretStr | None = None
    """NATS token; prefer the environment or --nats-token-file."""
    nats_token_file: Path | None = None
    """File holding the NATS token."""
    nats_user: str | None = None
    """NATS user (with a password)."""
    nats_password: SecretStr | None = None
    """NATS password; prefer the environment or --nats-password-file."""
    nats_password_file: Path | None = None
    """File holding the NATS password."""
    nats_tls_ca: Path | None = None  # CA bundle that signed the servers' certificates
    """CA bundle that signed the NATS servers' certificates."""
    nats_tls_cert: Path | None = None  # client certificate, when the servers verify clients
    """Client certificate, when the NATS servers verify clients."""
    nats_tls_key: Path | None = None
    """The client certificate's key."""

    # --- embedded NATS --------------------------------------------------------------------------
    data_dir: Path = Path(".storybridge")
    """Where the embedded nats-server keeps its store."""
    nats_port: int = 4222  # taken when free, else any free port
    """The embedded nats-server's port, when free (else any free port)."""

    @field_validator("subject_prefix")
    @classmethod
    def _one_token(cls, value: str) -> str:
        if not value or any(ch in value for ch in ".*> \t"):
            raise ValueError("subject prefix must be one NATS token (no '.', '*', '>' or spaces)")
        return value

    @model_validator(mode="after")
    def _secrets_from_files(self) -> BridgeSettings:
        # A mounted Kubernetes Secret is a file: `*_FILE` names it, the value itself wins when both are set.
        for name in ("nats_nkey_seed", "nats_token", "nats_password"):
            path: Path | None = getattr(self, f"{name}_file")
            if getattr(self, name) is None and path is not None:
                try:
                    text = path.read_text().strip()
                except OSError as exc:
                    raise ValueError(
                        f"STORYBRIDGE_{name.upper()}_FILE: cannot read {path}: {exc.strerror}"
                    ) from None
                setattr(self, name, SecretStr(text))
        chosen = [
            name
            for name, value in (
                ("STORYBRIDGE_NATS_CREDS", self.nats_creds),
                ("STORYBRIDGE_NATS_NKEY_SEED", self.nats_nkey_seed),
                ("STORYBRIDGE_NATS_TOKEN", self.nats_token),
                ("STORYBRIDGE_NATS_USER", self.nats_user),
            )
            if value is not None
        ]
        if len(chosen) > 1:
            raise ValueError(f"choose one NATS authentication, not {' and '.join(chosen)}")
        if (self.nats_password is None) != (self.nats_user is None):
            raise ValueError(
                "STORYBRIDGE_NATS_USER and STORYBRIDGE_NATS_PASSWORD go together: set both or neither"
            )
        if (self.nats_tls_cert is None) != (self.nats_tls_key is None):
            raise ValueError(
                "STORYBRIDGE_NATS_TLS_CERT and STORYBRIDGE_NATS_TLS_KEY go together: set both or neither"
            )
        return self

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
    def effective_route_max_in_flight(self) -> int:
        if self.route_max_in_flight is not None:
            return self.route_max_in_flight
        return max(1, self.max_in_flight * 3 // 4)

    @property
    def nats_servers(self) -> list[str]:
        return [u.strip() for u in (self.nats_url or "").split(",") if u.strip()]
