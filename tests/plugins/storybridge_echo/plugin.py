"""The Echo provider bundle: what `[storybridge.providers] echo = storybridge_echo.plugin:PROVIDER`
names. Everything the core needs of Echo is here; nothing in bridge/, handlers/ or schemas/ names it."""

from __future__ import annotations

from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict

from bridge.http.ratelimit import RateBudget
from bridge.http.transport import RetryPolicy
from bridge.plugins import (
    Attached,
    Channels,
    Running,
    SandboxAlone,
    SandboxOptions,
    Shared,
    own_settings,
)
from storybridge_echo.client import EchoClient
from storybridge_echo.commands import COMMANDS, EchoWatchTargets
from storybridge_echo.demo import DEMO
from storybridge_echo.watch import NAME, TYPE_PREFIX, EchoWatch


class EchoSettings(BaseSettings):
    """Its own settings, its own prefix: STORYBRIDGE_ECHO_BASE_URL turns it on (or --sandbox)."""

    model_config = SettingsConfigDict(env_prefix="STORYBRIDGE_ECHO_", extra="ignore")

    base_url: str | None = None
    rate_limit_per_minute: int = 600


def _event_type(suffix: str) -> str:
    return f"{TYPE_PREFIX}.{suffix.removeprefix(NAME + '.')}"


class EchoPlugin:
    name = NAME
    required = False
    enable_hint = "set STORYBRIDGE_ECHO_BASE_URL, or run with --sandbox"
    settings_model = EchoSettings
    commands = COMMANDS
    demo = DEMO
    watch_targets = EchoWatchTargets()
    reconciler: Any = None  # POST /things takes an Idempotency-Key: no ledger needed
    channels = Channels(
        subjects={"echo.thing": ("pending", "running", "ready", "failed")}, event_type=_event_type
    )

    def disabled_reason(self, settings: Any) -> str | None:
        if settings.sandbox or own_settings(self, settings).base_url:
            return None
        return "STORYBRIDGE_ECHO_BASE_URL is not set"

    def sandbox_alone(self, options: SandboxOptions) -> SandboxAlone:
        from storybridge_echo.sandbox import sandbox_alone

        return sandbox_alone(options)

    async def start(self, shared: Shared) -> Running:
        own: EchoSettings = own_settings(self, shared.settings)
        sandbox = None
        base_url = own.base_url
        if shared.settings.sandbox:
            from storybridge_echo.sandbox import EchoSandbox

            sandbox = EchoSandbox(speed=shared.sandbox_speed).start()
            base_url = sandbox.base_url
        assert base_url is not None
        circuit = shared.circuit(NAME)
        client = EchoClient(
            base_url,
            circuit=circuit,
            budget=RateBudget(per_minute=own.rate_limit_per_minute, on_wait=shared.on_rate_wait),
            retry=RetryPolicy(budget_seconds=shared.settings.retry_budget_seconds),
            timeout=shared.settings.request_timeout_seconds,
            on_request=shared.on_request,
        )
        return Running(
            NAME, client, circuit, EchoWatch(client, base_url), base_url, sandbox=sandbox
        )

    async def attach(self, running: Running, attached: Attached) -> None:
        return None


PROVIDER = EchoPlugin()
