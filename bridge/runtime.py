"""`storybridge run`: NATS, the API clients, the intake, the watch engine and the HTTP endpoints.

Start order matters: the API and NATS first, then JetStream declarations, then the watch engine (so
commands can start watches), then intake, then readiness. Stop is the reverse, bounded by the grace
period so Kubernetes never has to SIGKILL a replica mid-command.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from datetime import datetime
from typing import Any

import structlog
from faststream.nats import NatsBroker
from nats.js.client import JetStreamContext
from nats.js.kv import KeyValue

from bridge.commands import CommandExecutor, Execution
from bridge.config import BridgeSettings
from bridge.http.circuit import Circuit
from bridge.http.keys import ApiKey
from bridge.http.ratelimit import RateBudget
from bridge.http.transport import RetryPolicy
from bridge.ledger import CommandLedger
from bridge.names import DEAD_LETTERS_STREAM, Subjects
from bridge.nats.circuits import CircuitBoard
from bridge.nats.connection import auth_method, broker_security, check_credentials
from bridge.nats.deadletters import DeadLetters
from bridge.nats.embedded import EmbeddedNats
from bridge.nats.fleet_report import FleetReporter
from bridge.nats.gates import RouteGates, share_recoveries
from bridge.nats.intake import CANCEL_WAIT_SECONDS, DurableIntake, provider_of
from bridge.nats.lanes import DurableRetry
from bridge.nats.outcomes import OutcomePublisher
from bridge.nats.parking import parked_counts
from bridge.nats.service_api import RequestService
from bridge.nats.streams import circuits_bucket, declare, ledger_bucket, status_bucket
from bridge.ops.isolation_metrics import IsolationMetrics
from bridge.ops.tracing import Tracing, configure_tracing
from bridge.providers.story.client import StoryClient, story_transport
from bridge.providers.story.credits import CreditsMonitor
from bridge.providers.story.watch.provider import StoryProvider
from bridge.providers.syllaby.client import SyllabyClient, syllaby_budget
from bridge.providers.syllaby.token import SyllabyToken
from bridge.providers.syllaby.watch import SyllabyProvider
from bridge.watch import WatchEngine, WatchSettings
from bridge.watching import EngineWatches
from handlers.syllaby.reconcile import SyllabyReconciler

log = structlog.get_logger(__name__)

SANDBOX_SPEED = 20.0

READY_CHECK_TIMEOUT = 0.5
GAUGE_REFRESH_SECONDS = 5.0
# Shutdown steps after the intake's grace period (see shutdown_budget).
ENGINE_STOP_SECONDS = 10.0  # the engine's own stop waits up to 10 s for its tasks
BROKER_STOP_SECONDS = 5.0
# Process exit, the HTTP server, the embedded server's terminate: a margin, not a measured bound.
EXIT_MARGIN_SECONDS = 3.0


def shutdown_budget(settings: BridgeSettings) -> float:
    """The longest `Bridge.stop()` can take: what terminationGracePeriodSeconds must exceed."""
    return (
        settings.shutdown_grace_seconds
        + CANCEL_WAIT_SECONDS
        + ENGINE_STOP_SECONDS
        + BROKER_STOP_SECONDS
        + EXIT_MARGIN_SECONDS
    )


def sandbox_key() -> str:
    """A well-formed throwaway key: the sandbox accepts any, and it is never a real secret."""
    return f"sh_{secrets.token_hex(9)}_{secrets.token_hex(32)}"


def sandbox_token() -> str:
    """A throwaway Sanctum-style token (`<id>|<secret>`) for the bundled Syllaby sandbox."""
    return f"{secrets.randbelow(10_000) + 1}|{secrets.token_hex(20)}"


class Bridge:
    """One storybridge replica."""

    def __init__(
        self, settings: BridgeSettings, *, metrics: Any = None, tracing: Tracing | None = None
    ) -> None:
        self.settings = settings
        self.tracing = tracing  # None: from the settings at start (tests inject their own)
        self.subjects = Subjects(settings.subject_prefix)
        self.metrics = metrics
        registry = getattr(metrics, "registry", None)
        self.isolation = IsolationMetrics(registry) if registry is not None else None
        self.sandbox: Any = None
        self.embedded: EmbeddedNats | None = None
        self.broker: NatsBroker | None = None
        self.api: StoryClient | None = None
        self.engine: WatchEngine | None = None
        self.intake: DurableIntake | None = None
        self.circuit: Circuit | None = None
        # The second provider (CONTRACT.md, "Syllaby"): on with SYLLABY_API_TOKEN or --sandbox.
        self.syllaby: SyllabyClient | None = None
        self.syllaby_circuit: Circuit | None = None
        self.syllaby_sandbox: Any = None
        self.syllaby_base_url: str | None = settings.syllaby_base_url
        self.ledger: CommandLedger | None = None
        self.outcomes: OutcomePublisher | None = None
        self.circuits: KeyValue | None = None
        self.board = (
            CircuitBoard()
        )  # the circuits as the runtime uses them (bridge/nats/circuits.py)
        self.board.gauge = metrics.set_circuit if metrics is not None else None
        self.board.surfaced = self.isolation.surfaced if self.isolation is not None else None
        self.dead_letters: DeadLetters | None = None
        self._gauges: asyncio.Task[None] | None = None
        self.credits: CreditsMonitor | None = None
        self.requests: RequestService | None = None
        self.fleet: FleetReporter | None = None
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
        from bridge.sandboxes.story import StorySandboxConfig, StorySandboxServer

        self.sandbox = StorySandboxServer(StorySandboxConfig(speed=SANDBOX_SPEED)).start()
        self.base_url = self.sandbox.base_url
        log.info("sandbox started", base_url=self.base_url, speed=SANDBOX_SPEED)

    def _syllaby_token(self) -> SyllabyToken | None:
        s = self.settings
        if s.syllaby_api_token is not None and not s.sandbox:
            if not s.syllaby_base_url:
                raise SystemExit(
                    "SYLLABY_API_TOKEN is set but SYLLABY_BASE_URL is not: set the base URL the "
                    "reference's /text-to-scene paths are relative to"
                )
            return SyllabyToken(s.syllaby_api_token)
        if s.sandbox:
            return SyllabyToken(sandbox_token())
        return None

    def _start_syllaby_sandbox(self) -> None:
        from bridge.sandboxes.syllaby import SyllabySandboxConfig, SyllabySandboxServer

        self.syllaby_sandbox = SyllabySandboxServer(
            SyllabySandboxConfig(speed=SANDBOX_SPEED)
        ).start()
        self.syllaby_base_url = self.syllaby_sandbox.base_url
        log.info("syllaby sandbox started", base_url=self.syllaby_base_url, speed=SANDBOX_SPEED)

    def _start_syllaby(self, token: SyllabyToken | None) -> None:
        s = self.settings
        if token is None:
            return
        if s.sandbox:
            self._start_syllaby_sandbox()
        assert self.syllaby_base_url is not None
        self.syllaby_circuit = Circuit(
            "syllaby", probe_seconds=s.circuit_probe_seconds, on_change=self.board.changed
        )
        self.board.add(self.syllaby_circuit)
        self.syllaby = SyllabyClient(
            self.syllaby_base_url,
            token,
            circuit=self.syllaby_circuit,
            budget=syllaby_budget(
                s.syllaby_rate_limit_per_minute,
                on_wait=self.metrics.observe_rate_wait if self.metrics is not None else None,
            ),
            retry=RetryPolicy(budget_seconds=s.retry_budget_seconds),
            timeout=s.request_timeout_seconds,
            on_request=self.metrics.observe_api_request if self.metrics is not None else None,
        )

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
        syllaby_token = self._syllaby_token()
        if self.tracing is None:
            self.tracing = configure_tracing(s.tracing)
        if s.sandbox:
            self._start_sandbox()
        servers = self._start_nats()
        self.nats_url = ",".join(servers)
        self.circuit = Circuit(
            "story", probe_seconds=s.circuit_probe_seconds, on_change=self.board.changed
        )
        self.board.add(self.circuit)
        self.api = StoryClient(
            story_transport(
                self.base_url,
                key,
                circuit=self.circuit,
                budget=RateBudget(
                    per_minute=s.rate_limit_per_minute,
                    on_wait=self.metrics.observe_rate_wait if self.metrics is not None else None,
                ),
                retry=RetryPolicy(budget_seconds=s.retry_budget_seconds),
                timeout=s.request_timeout_seconds,
                on_request=self.metrics.observe_api_request if self.metrics is not None else None,
            )
        )
        self._start_syllaby(syllaby_token)
        # A refused credential stops the start with one line; the broker would retry it forever.
        await check_credentials(servers, s)
        self.broker = NatsBroker(
            servers,
            security=broker_security(s),
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
            logger=logging.getLogger(f"{__name__}.faststream"),
            log_level=logging.DEBUG,
        )
        await self.broker.connect()
        nc = self.broker.connection
        js: JetStreamContext = nc.jetstream()

        async def declare_all() -> KeyValue:
            return await declare(
                js,
                self.subjects,
                max_command_bytes=s.max_command_bytes,
                events_duplicate_window=s.events_duplicate_window_seconds,
                ack_wait=s.ack_wait_seconds,
                max_deliver=s.effective_max_deliver,
                max_ack_pending=max(s.max_in_flight * 4, 64),
                replicas=s.stream_replicas,
            )

        kv = await declare_all()
        provider = StoryProvider(
            self.api,
            base_url=self.base_url,
            discovery_per_second=s.rate_limit_per_minute
            / 60.0
            * s.poll_budget_share
            * s.discovery_budget_share,
        )
        providers: dict[str, Any] = {provider.name: provider}
        if self.syllaby is not None:
            syllaby = SyllabyProvider(self.syllaby, base_url=self.syllaby_base_url)
            providers[syllaby.name] = syllaby
        # Every commandId's body is fingerprinted there; Syllaby's commands also claim there.
        bucket = await ledger_bucket(
            js, replicas=s.stream_replicas, deadline=s.command_deadline_seconds
        )
        self.ledger = CommandLedger(bucket, lease_seconds=s.ledger_lease_seconds)
        self.engine = WatchEngine(
            js=js,
            kv=kv,
            providers=providers,
            subjects=self.subjects,
            settings=WatchSettings.from_settings(s, interval_scale=self._interval_scale()),
            metrics=self.metrics,
            # An open circuit pauses the provider's polls; nothing stalls or expires meanwhile.
            paused=self.board.paused,
            surfaced=self.isolation.surfaced if self.isolation is not None else None,
        )
        await self.engine.start()
        self.credits = CreditsMonitor(
            self.api,
            js,
            kv,
            self.subjects,
            source=self.base_url,
            interval=s.credits_interval_seconds,
            threshold=s.credits_low_threshold,
            metrics=self.metrics,
        )
        self.credits.start()
        outcomes = OutcomePublisher(js, self.subjects, source=self.base_url)
        self.outcomes = outcomes
        self.circuits = await circuits_bucket(js, replicas=s.stream_replicas)
        self.board.kv, self.board.outcomes = self.circuits, outcomes
        self.board.follow()
        self.dead_letters = DeadLetters(
            nc,
            js,
            self.subjects,
            outcomes,
            # Past its deadline, its last retry delay and two ack waits, nobody is settling it.
            abandoned_after=s.command_deadline_seconds
            + s.command_retry_max_seconds
            + 2 * s.ack_wait_seconds
            + 60,
        )
        await self.dead_letters.listen()
        self.circuit.start(self.api.probe)
        if self.syllaby_circuit is not None and self.syllaby is not None:
            self.syllaby_circuit.start(self.syllaby.probe)
        # The fleet view (admin.status) and its gauges: bridge/nats/fleet_report.py.
        self.fleet = FleetReporter.of(self, js, await status_bucket(js, replicas=s.stream_replicas))
        self.fleet.start()
        executor = CommandExecutor(
            self.api,
            EngineWatches(self.engine),
            max_bytes=s.max_command_bytes,
            max_outcome_bytes=s.max_outcome_bytes,
            tracing=self.tracing,
            dead_letters=self.dead_letters,
            extra_fields=s.command_extra_fields,
            syllaby=self.syllaby,
            ledger=self.ledger,
            reconcilers={"syllaby": SyllabyReconciler()},
            status=self.fleet,
        )
        self.intake = DurableIntake(
            js,
            executor,
            outcomes,
            self.subjects,
            max_in_flight=s.max_in_flight,
            ack_wait=s.ack_wait_seconds,
            retry=DurableRetry(
                deadline_seconds=s.command_deadline_seconds,
                base_seconds=s.command_retry_base_seconds,
                max_seconds=s.command_retry_max_seconds,
                max_deliver=s.effective_max_deliver,
            ),
            dead_letters=self.dead_letters,
            redeclare=declare_all,
            on_execution=self._observe,
            on_retry=self.metrics.command_retried if self.metrics is not None else None,
            gates=RouteGates.from_settings(s),
            circuit_hold=self.board.hold,
            on_park=self.isolation.command_parked if self.isolation is not None else None,
        )
        await self.broker.start()
        # Request/reply is the NATS service `storybridge` ($SRV.PING/INFO/STATS, one endpoint per
        # command): bridge/nats/service_api.py.
        self.requests = RequestService(
            self.broker.connection,
            executor,
            outcomes,
            self.subjects,
            max_in_flight=s.max_in_flight,
            on_execution=self._observe,
        )
        await self.requests.start()
        # The server must have our SUBs before anyone is told we are up (else "no responders").
        await self.broker.connection.flush()
        assert self.intake.gates is not None
        await share_recoveries(nc, self.subjects.route_recovered, self.intake.gates)
        await self.intake.start()
        if self.metrics is not None:
            self.metrics.set_circuit(self.circuit.provider, False)
            if self.syllaby_circuit is not None:
                self.metrics.set_circuit(self.syllaby_circuit.provider, False)
            self._gauges = asyncio.create_task(self._refresh_gauges(js), name="storybridge-gauges")
        log.info(
            "storybridge running",
            nats=self.nats_url,
            nats_auth=auth_method(s),
            nats_tls=s.nats_tls_ca is not None or s.nats_tls_cert is not None,
            stream_replicas=s.stream_replicas,
            base_url=self.base_url,
            prefix=s.subject_prefix,
            key=key.prefix,
            syllaby=self.syllaby_base_url if self.syllaby is not None else None,
            syllaby_token=self.syllaby.key.prefix if self.syllaby is not None else None,
        )

    def _interval_scale(self) -> float:
        if self.settings.poll_interval_scale is not None:
            return self.settings.poll_interval_scale
        return 1.0 / SANDBOX_SPEED if self.settings.sandbox else 1.0

    def _observe(
        self, execution: Execution, path: str, published_at: datetime | None = None
    ) -> None:
        if self.metrics is not None:
            self.metrics.observe_command(execution, path, published_at)

    async def _refresh_gauges(self, js: JetStreamContext) -> None:
        assert self.metrics is not None
        while True:
            with contextlib.suppress(Exception):
                info = await js.stream_info(DEAD_LETTERS_STREAM)
                self.metrics.set_dead_letters(info.state.messages)
            if self.isolation is not None and self.intake is not None:
                with contextlib.suppress(Exception):
                    counts, oldest = await parked_counts(js, self.subjects, provider_of)
                    self.isolation.set_parked(counts, oldest)
                gates = self.intake.gates
                self.isolation.set_route_in_flight(gates.in_flight() if gates is not None else {})
            await asyncio.sleep(GAUGE_REFRESH_SECONDS)

    # --- readiness ------------------------------------------------------------------------------
    async def ready(self) -> tuple[bool, dict[str, Any]]:
        checks: dict[str, Any] = {"nats": False, "intake": False, "watches": False}
        if self.broker is not None:
            with contextlib.suppress(Exception):  # not connected yet: no connection at all
                nc = self.broker.connection
                # flush() returns without a PING while reconnecting: ask the flags, then round-trip.
                if nc.is_connected and not nc.is_reconnecting:
                    await nc.flush(timeout=1)
                    checks["nats"] = True
        checks["intake"] = bool(
            checks["nats"] and self.intake and await self.intake.healthy(READY_CHECK_TIMEOUT)
        )
        checks["watches"] = bool(self.engine and getattr(self.engine, "ready", True))
        ok = all(checks.values())
        # Reported, not failed: every replica shares the key, so restarting or unrouting one
        # cannot help; the bridge.degraded event and the gauge tell the people who can.
        opened_circuits = {
            c.provider: c.opened_by.code if c.opened_by else "open"
            for c in (self.circuit, self.syllaby_circuit)
            if c is not None and c.is_open
        }
        if opened_circuits:
            checks["circuits"] = opened_circuits
        return ok, checks

    def asyncapi(self) -> dict[str, Any]:
        from bridge.asyncapi import asyncapi_document

        return asyncapi_document(self.settings.subject_prefix)

    # --- stop -----------------------------------------------------------------------------------
    async def stop(self) -> None:
        """Every step is bounded; `shutdown_budget()` adds the bounds up for the grace period."""
        grace = self.settings.shutdown_grace_seconds
        # Both ways in drain at once, within the one grace period.
        draining = [part.stop(grace) for part in (self.requests, self.intake) if part is not None]
        await asyncio.gather(*draining, return_exceptions=True)
        if self._gauges is not None:
            self._gauges.cancel()
        if self.fleet is not None:
            await self.fleet.stop()
        if self.dead_letters is not None:
            await self.dead_letters.stop()
        await self.board.stop()
        if self.credits is not None:
            await self.credits.stop()
        if self.engine is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.engine.stop(), timeout=ENGINE_STOP_SECONDS)
        if self.broker is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.broker.stop(), timeout=BROKER_STOP_SECONDS)
        if self.api is not None:
            await self.api.aclose()
        if self.syllaby is not None:
            await self.syllaby.aclose()
        if self.embedded is not None:
            self.embedded.stop()
        if self.sandbox is not None:
            self.sandbox.stop()
        if self.syllaby_sandbox is not None:
            self.syllaby_sandbox.stop()
        if self.tracing is not None:
            await self.tracing.aclose()
        log.info("storybridge stopped")
