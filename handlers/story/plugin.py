"""The Story API as a storybridge provider (bridge/plugins.py), registered in pyproject.toml under
`storybridge.providers` like any other: its client, sandbox, commands, watches and channels.

It lives on the handlers floor because it assembles the handlers with the client: in
bridge/providers/ it would make the providers import the handlers above them."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

import structlog

from bridge.http.keys import ApiKey
from bridge.http.ratelimit import RateBudget
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
)
from bridge.providers.story.channels import CHANNELS
from bridge.providers.story.client import StoryClient, story_transport
from bridge.providers.story.credits import CreditsMonitor
from bridge.providers.story.demo import DEMO
from bridge.providers.story.watch.provider import StoryProvider
from handlers.base import CommandHandler
from handlers.story import artifacts, jobs, pipeline, plans, projects, reads, series_bible, sources
from handlers.story.watch_targets import StoryWatchTargets

log = structlog.get_logger(__name__)

NO_KEY = (
    "SLEEPERHIT_API_KEY is not set: export your Story API key, or run with --sandbox to use the "
    "bundled sandbox"
)


def sandbox_key() -> str:
    """A well-formed throwaway key: the sandbox accepts any, and it is never a real secret."""
    return f"sh_{secrets.token_hex(9)}_{secrets.token_hex(32)}"


class StoryPlugin:
    name = "story"
    # The contract's own API: a run without its key is a mistake, not a smaller bridge.
    required = True
    enable_hint = "set SLEEPERHIT_API_KEY, or run with --sandbox"
    reconciler: Any = None  # every mutating Story route takes an Idempotency-Key
    channels: Channels = CHANNELS
    demo: Demo = DEMO
    watch_targets: WatchTargets | None = StoryWatchTargets()

    def __init__(self) -> None:
        self.commands: Mapping[str, CommandHandler] = {
            **projects.HANDLERS,
            **sources.HANDLERS,
            **plans.HANDLERS,
            **jobs.HANDLERS,
            **artifacts.HANDLERS,
            **series_bible.HANDLERS,
            # project additions (docs/CONTRACT.md "Project additions")
            **pipeline.HANDLERS,
            **reads.HANDLERS,
        }

    def disabled_reason(self, settings: Any) -> str | None:
        return None if settings.sandbox or settings.api_key is not None else NO_KEY

    def sandbox_alone(self, options: SandboxOptions) -> SandboxAlone:
        from bridge.sandboxes.story.alone import sandbox_alone

        return sandbox_alone(options)

    async def start(self, shared: Shared) -> Running:
        s = shared.settings
        sandbox = None
        base_url: str = s.base_url
        if s.sandbox:
            from bridge.sandboxes.story import StorySandboxConfig, StorySandboxServer

            sandbox = StorySandboxServer(StorySandboxConfig(speed=shared.sandbox_speed)).start()
            base_url = sandbox.base_url
            log.info("sandbox started", base_url=base_url, speed=shared.sandbox_speed)
        key = ApiKey.parse(sandbox_key() if s.sandbox else s.api_key)
        circuit = shared.circuit(self.name)
        client = StoryClient(
            story_transport(
                base_url,
                key,
                circuit=circuit,
                budget=RateBudget(per_minute=s.rate_limit_per_minute, on_wait=shared.on_rate_wait),
                retry=RetryPolicy(budget_seconds=s.retry_budget_seconds),
                timeout=s.request_timeout_seconds,
                on_request=shared.on_request,
            )
        )
        watch = StoryProvider(
            client,
            base_url=base_url,
            discovery_per_second=s.rate_limit_per_minute
            / 60.0
            * s.poll_budget_share
            * s.discovery_budget_share,
        )
        return Running(self.name, client, circuit, watch, base_url, sandbox=sandbox)

    async def attach(self, running: Running, attached: Attached) -> None:
        s = attached.settings
        monitor = CreditsMonitor(
            running.client,
            attached.js,
            attached.kv,
            attached.subjects,
            source=running.base_url,
            interval=s.credits_interval_seconds,
            threshold=s.credits_low_threshold,
            metrics=attached.metrics,
        )
        monitor.start()
        running.credits = monitor
        running.services.append(monitor)


PROVIDER = StoryPlugin()
