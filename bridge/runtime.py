"""`storybridge run`: assemble NATS, the API client, the intake, the watch engine and the HTTP endpoints.

Start order matters: the API and NATS first, then JetStream declarations, then the watch engine (so
commands can start watches), then intake, then readiness. Stop is the reverse, bounded by the grace
period so Kubernetes never has to SIGKILL a replica mid-command.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from typing import Any

import structlog
from faststream.nats import NatsBroker
from nats.js.client import JetStreamContext

from bridge.api.client import StoryClient
from bridge.api.keys import ApiKey
from bridge.api.ratelimit import RateBudget
from bridge.api.transport import RetryPolicy
from bridge.commands import CommandExecutor, Execution
from bridge.config import Settings
from bridge.nats.embedded import EmbeddedNats
from bridge.nats.intake import DurableIntake, register_requests
from bridge.nats.outcomes import OutcomePublisher
from bridge.nats.streams import Subjects, declare
from bridge.tracing import Tracing, configure_tracing, current_trace
from bridge.watch import StoryProvider, WatchEngine, WatchSettings, WatchSpec

log = structlog.get_logger("storybridge.runtime")

SANDBOX_SPEED = 20.0


def sandbox_key() -> str:
    """A well-formed throwaway key: the sandbox accepts any, and it is never a real secret."""
    return f"sh_{secrets.token_hex(9)}_{secrets.token_hex(32)}"


class StoryWatches:
    """The handlers' `Watches`, bound to the Story API provider of the watch engine."""

    provider = "story"

    def __init__(self, engine: WatchEngine) -> None:
        self.engine = engine

    async def watch(
        self,
        kind: str,
        id: str,
        *,
        project_id: str | None = None,
        facets: tuple[str, ...] | None = None,
        parents: dict[str, str] | None = None,
    ) -> None:
        all_parents = dict(parents or {})
        if project_id:
            all_parents["projectId"] = project_id
        await self.engine.add(
            WatchSpec(
                provider=self.provider,
                kind=kind,
                id=id,
                parents=all_parents,
                facets=facets,
                origin="command",
                trace=current_trace(),  # the command's trace, continued by the watch's events
            )
        )

    async def unwatch(self, kind: str, id: str) -> bool:
        return bool(await self.engine.remove(self.provider, kind, id))


class Bridge:
    """One storybridge replica."""

    def __init__(
        self, settings: Settings, *, metrics: Any = None, tracing: Tracing | None = None
    ) -> None:
        self.settings = settings
        self.tracing = tracing  # None: from the settings at start (tests inject their own)
        self.subjects = Subjects(settings.subject_prefix)
        self.metrics = metrics
        self.sandbox: Any = None
        self.embedded: EmbeddedNats | None = None
        self.broker: NatsBroker | None = None
        self.api: StoryClient | None = None
        self.engine: WatchEngine | None = None
        self.intake: DurableIntake | None = None
        self.http: Any = None
        self.nats_url = ""
        self.base_url = settings.base_url

    # --- start ----------------------------------------------------------------------------------
    def _api_key(self) -> ApiKey:
        if self.settings.sandbox:
            return ApiKey.parse(sandbox_key())
        if self.settings.api_key is None:
            raise SystemExit(
                "SLEEPERHIT_API_KEY is not set: export your Story API key, or run with --sandbox "
                "to use the bundled sandbox"
            )
        return ApiKey.parse(self.settings.api_key)

    def _start_sandbox(self) -> None:
        from bridge.sandbox import SandboxConfig, SandboxServer

        self.sandbox = SandboxServer(SandboxConfig(speed=SANDBOX_SPEED)).start()
        self.base_url = self.sandbox.base_url
        log.info("sandbox started", base_url=self.base_url, speed=SANDBOX_SPEED)

    def _start_nats(self) -> list[str]:
        if self.settings.nats_servers:
            return self.settings.nats_servers
        self.embedded = EmbeddedNats(
            self.settings.data_dir / "nats",
            port=self.settings.nats_port,
            max_payload=max(2 * self.settings.max_command_bytes, 1024 * 1024),
        ).start()
        log.info(
            "no STORYBRIDGE_NATS_URL: using an embedded nats-server",
            url=self.embedded.url,
            data_dir=str(self.embedded.store_dir.resolve()),
        )
        return [self.embedded.url]

    async def start(self) -> None:
        s = self.settings
        key = self._api_key()
        if self.tracing is None:
            self.tracing = configure_tracing(s.tracing)
        if s.sandbox:
            self._start_sandbox()
        servers = self._start_nats()
        self.nats_url = ",".join(servers)
        self.api = StoryClient(
            self.base_url,
            key,
            budget=RateBudget(
                per_minute=s.rate_limit_per_minute,
                on_wait=self.metrics.observe_rate_wait if self.metrics is not None else None,
            ),
            retry=RetryPolicy(budget_seconds=s.retry_budget_seconds),
            timeout=s.request_timeout_seconds,
            on_request=self.metrics.observe_api_request if self.metrics is not None else None,
        )
        self.broker = NatsBroker(
            servers,
            # A dead connection must be noticed in seconds, and a service never gives up reconnecting.
            ping_interval=5,
            max_outstanding_pings=3,
            max_reconnect_attempts=-1,
            reconnect_time_wait=1,
            graceful_timeout=s.shutdown_grace_seconds,
            # The intake drains its own in-flight work first; the connection drain is only a flush.
            drain_timeout=5,
            # Through our logging (JSON, redacted); per-message access lines only at DEBUG, since
            # the executor already logs one line per command.
            logger=logging.getLogger("storybridge.faststream"),
            log_level=logging.DEBUG,
        )
        await self.broker.connect()
        js: JetStreamContext = self.broker.connection.jetstream()
        kv = await declare(
            js,
            self.subjects,
            max_command_bytes=s.max_command_bytes,
            events_duplicate_window=s.events_duplicate_window_seconds,
            ack_wait=s.ack_wait_seconds,
            max_deliver=s.max_deliver,
            max_ack_pending=max(s.max_in_flight * 4, 64),
        )
        provider = StoryProvider(self.api, base_url=self.base_url)
        self.engine = WatchEngine(
            js=js,
            kv=kv,
            providers={provider.name: provider},
            subjects=self.subjects,
            settings=WatchSettings.from_settings(s, interval_scale=self._interval_scale()),
            metrics=self.metrics,
        )
        await self.engine.start()
        outcomes = OutcomePublisher(js, self.subjects, source=self.base_url)
        executor = CommandExecutor(
            self.api,
            StoryWatches(self.engine),
            max_bytes=s.max_command_bytes,
            tracing=self.tracing,
        )
        # Subscribers may be added after connect(); they begin consuming at start().
        register_requests(
            self.broker,
            executor,
            outcomes,
            self.subjects,
            max_workers=s.max_in_flight,
            on_execution=self._observe,
        )
        self.intake = DurableIntake(
            js,
            executor,
            outcomes,
            self.subjects,
            max_in_flight=s.max_in_flight,
            ack_wait=s.ack_wait_seconds,
            on_execution=self._observe,
        )
        await self.broker.start()
        # The server must have our SUBs before anyone is told we are up (else "no responders").
        await self.broker.connection.flush()
        await self.intake.start()
        log.info(
            "storybridge running",
            nats=self.nats_url,
            base_url=self.base_url,
            prefix=s.subject_prefix,
            key=key.prefix,
        )

    def _interval_scale(self) -> float:
        if self.settings.poll_interval_scale is not None:
            return self.settings.poll_interval_scale
        return 1.0 / SANDBOX_SPEED if self.settings.sandbox else 1.0

    def _observe(self, execution: Execution, path: str) -> None:
        if self.metrics is not None:
            self.metrics.observe_command(execution, path)

    # --- readiness ------------------------------------------------------------------------------
    async def ready(self) -> tuple[bool, dict[str, bool]]:
        checks = {"nats": False, "intake": False, "watches": False}
        if self.broker is not None:
            with contextlib.suppress(Exception):
                # A real round trip: a local is_connected flag survives a dead server (faststream #1538).
                await self.broker.connection.flush(timeout=1)
                checks["nats"] = True
        checks["intake"] = bool(self.intake and self.intake.bound)
        checks["watches"] = bool(self.engine and getattr(self.engine, "ready", True))
        return all(checks.values()), checks

    def asyncapi(self) -> dict[str, Any]:
        from bridge.asyncapi import asyncapi_document

        return asyncapi_document(self.settings.subject_prefix)

    # --- stop -----------------------------------------------------------------------------------
    async def stop(self) -> None:
        grace = self.settings.shutdown_grace_seconds
        if self.intake is not None:
            await self.intake.stop(grace)
        if self.engine is not None:
            with contextlib.suppress(Exception):
                await self.engine.stop()
        if self.broker is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.broker.stop(), timeout=5)
        if self.api is not None:
            await self.api.aclose()
        if self.embedded is not None:
            self.embedded.stop()
        if self.sandbox is not None:
            self.sandbox.stop()
        if self.tracing is not None:
            await self.tracing.aclose()
        log.info("storybridge stopped")
