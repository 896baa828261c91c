"""Syllaby Text-to-Scene as a storybridge provider (bridge/plugins.py; CONTRACT.md, "Syllaby"):
on with SYLLABY_API_TOKEN (and SYLLABY_BASE_URL) or with --sandbox, which brings its own."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

import structlog

from bridge.http.transport import RetryPolicy
from bridge.plugins import (
    Attached,
    Channels,
    Demo,
    Running,
    SandboxAlone,
    SandboxOptions,
    Shared,
    WatchTargets,
    own_settings,
)
from bridge.providers.syllaby.channels import CHANNELS
from bridge.providers.syllaby.client import SyllabyClient, syllaby_budget
from bridge.providers.syllaby.demo import DEMO
from bridge.providers.syllaby.settings import SyllabySettings
from bridge.providers.syllaby.token import SyllabyToken
from bridge.providers.syllaby.watch import SyllabyProvider
from handlers.base import CommandHandler
from handlers.syllaby import HANDLERS
from handlers.syllaby.reconcile import SyllabyReconciler
from handlers.syllaby.watch_targets import SyllabyWatchTargets

log = structlog.get_logger(__name__)


def sandbox_token() -> str:
    """A throwaway Sanctum-style token (`<id>|<secret>`) for the bundled Syllaby sandbox."""
    return f"{secrets.randbelow(10_000) + 1}|{secrets.token_hex(20)}"


class SyllabyPlugin:
    name = "syllaby"
    required = False
    enable_hint = "set SYLLABY_API_TOKEN and SYLLABY_BASE_URL, or run with --sandbox"
    channels: Channels = CHANNELS
    demo: Demo = DEMO
    watch_targets: WatchTargets | None = SyllabyWatchTargets()
    settings_model = SyllabySettings

    def __init__(self) -> None:
        self.commands: Mapping[str, CommandHandler] = dict(HANDLERS)
        # No Idempotency-Key: the ledger settles an interrupted call by reading the storyboard.
        self.reconciler: Any = SyllabyReconciler()

    def disabled_reason(self, settings: Any) -> str | None:
        if settings.sandbox:
            return None
        own: SyllabySettings = own_settings(self, settings)
        if own.api_token is None:
            return "SYLLABY_API_TOKEN is not set"
        if not own.base_url:
            raise SystemExit(
                "SYLLABY_API_TOKEN is set but SYLLABY_BASE_URL is not: set the base URL the "
                "reference's /text-to-scene paths are relative to"
            )
        return None

    def sandbox_alone(self, options: SandboxOptions) -> SandboxAlone:
        from bridge.sandboxes.syllaby.alone import sandbox_alone

        return sandbox_alone(options)

    async def start(self, shared: Shared) -> Running:
        s = shared.settings
        own: SyllabySettings = own_settings(self, s)
        sandbox = None
        base_url: str | None = own.base_url
        if s.sandbox:
            from bridge.sandboxes.syllaby import SyllabySandboxConfig, SyllabySandboxServer

            sandbox = SyllabySandboxServer(SyllabySandboxConfig(speed=shared.sandbox_speed)).start()
            base_url = sandbox.base_url
            log.info("syllaby sandbox started", base_url=base_url, speed=shared.sandbox_speed)
        assert base_url is not None  # disabled_reason refused a token without one
        secret = sandbox_token() if s.sandbox else own.api_token
        assert secret is not None  # disabled_reason: no token, no start
        token = SyllabyToken(secret)
        circuit = shared.circuit(self.name)
        client = SyllabyClient(
            base_url,
            token,
            circuit=circuit,
            budget=syllaby_budget(own.rate_limit_per_minute, on_wait=shared.on_rate_wait),
            retry=RetryPolicy(budget_seconds=s.retry_budget_seconds),
            timeout=s.request_timeout_seconds,
            on_request=shared.on_request,
        )
        watch = SyllabyProvider(client, base_url=base_url)
        return Running(self.name, client, circuit, watch, base_url, sandbox=sandbox)

    async def attach(self, running: Running, attached: Attached) -> None:
        return None


PROVIDER = SyllabyPlugin()
