"""`storybridge run`: NATS, the API clients, the intake, the watch engine and the HTTP endpoints.

Start order matters: the API and NATS first, then JetStream declarations, then the watch engine (so
commands can start watches), then intake, then readiness. Stop is the reverse, bounded by the grace
period so Kubernetes never has to SIGKILL a replica mid-command.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Any

import structlog
from faststream.nats import NatsBroker
from nats.js.client import JetStreamContext
from nats.js.kv import KeyValue

from bridge import plugins
from bridge.commands import CommandExecutor, Execution
from bridge.config import BridgeSettings
from bridge.http.circuit import Circuit
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
from bridge.plugins import Attached, Running, Shared
from bridge.watch import WatchEngine, WatchSettings
from bridge.watch_starts import EngineWatches

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
        self.embedded: EmbeddedNats | None = None
        self.broker: NatsBroker | None = None
        # The installed providers this run started, by name (bridge/plugins.py).
        self.running: dict[str, Running] = {}
        self.engine: WatchEngine | None = None
        self.intake: DurableIntake | None = None
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
        self.requests: RequestService | None = None
        self.fleet: FleetReporter | None = None
        self.http: Any = None
        self.nats_url = ""
        self.base_url = settings.base_url

    # --- start ----------------------------------------------------------------------------------
    def client(self, provider: str) -> Any:
        """The started client of `provider`, or None while it is off."""
        running = self.running.get(provider)
        return running.client if running is not None else None

    def _enabled(self) -> list[plugins.Provider]:
        """The providers this run starts; a required one that is off stops the start, saying why.
        Decided before anything starts, so a refused setting leaves nothing to clean up."""
        installed = plugins.providers()
        for broken in plugins.failed():  # left out, said once: the rest of the run goes on
            log.error(
                "provider not loaded",
                provider=broken.name,
                entry_point=broken.entry_point,
                reason=broken.reason,
            )
        if not installed:  # a checkout whose metadata predates the entry points, most likely
            raise SystemExit(
                f"no provider is installed (entry point group {plugins.ENTRY_POINT_GROUP}): "
                "`pip install -e .` registers story and syllaby"
            )
        chosen = []
        for provider in installed.values():
            reason = provider.disabled_reason(self.settings)
            if reason is None:
                chosen.append(provider)
            elif provider.required:
                raise SystemExit(reason)
        return chosen

    def _new_circuit(self, name: str) -> Circuit:
        circuit = Circuit(
            name, probe_seconds=self.settings.circuit_probe_seconds, on_change=self.board.changed
        )
        self.board.add(circuit)
        return circuit

    async def _start_providers(self, enabled: list[plugins.Provider]) -> None:
        shared = Shared(
            settings=self.settings,
            circuit=self._new_circuit,
            sandbox_speed=SANDBOX_SPEED,
            on_rate_wait=self.metrics.observe_rate_wait if self.metrics is not None else None,
            on_request=self.metrics.observe_api_request if self.metrics is not None else None,
        )
        for provider in enabled:
            self.running[provider.name] = await provider.start(shared)
        # The core's own events (command outcomes) name the first required provider's API as
        # their source, as they did before providers were plugins.
        sources = [r.base_url for n, r in self.running.items() if plugins.providers()[n].required]
        self.base_url = sources[0] if sources else self.settings.base_url

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
        enabled = self._enabled()
        if self.tracing is None:
            self.tracing = configure_tracing(s.tracing)
        await self._start_providers(enabled)
        servers = self._start_nats()
        self.nats_url = ",".join(servers)
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
        providers = {r.watch.name: r.watch for r in self.running.values()}
        # Every commandId's body is fingerprinted there; commands of a provider without
        # Idempotency-Keys also claim there.
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
        attached = Attached(settings=s, js=js, kv=kv, subjects=self.subjects, metrics=self.metrics)
        for name, running in self.running.items():
            await plugins.providers()[name].attach(running, attached)
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
        for running in self.running.values():
            running.circuit.start(running.client.probe)
        # The fleet view (admin.status) and its gauges: bridge/nats/fleet_report.py.
        self.fleet = FleetReporter.of(self, js, await status_bucket(js, replicas=s.stream_replicas))
        self.fleet.start()
        reconcilers = {
            name: reconciler
            for name in self.running
            if (reconciler := plugins.providers()[name].reconciler) is not None
        }
        executor = CommandExecutor(
            {name: running.client for name, running in self.running.items()},
            EngineWatches(self.engine),
            max_bytes=s.max_command_bytes,
            max_outcome_bytes=s.max_outcome_bytes,
            tracing=self.tracing,
            dead_letters=self.dead_letters,
            extra_fields=s.command_extra_fields,
            ledger=self.ledger,
            reconcilers=reconcilers,
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
            for running in self.running.values():
                self.metrics.set_circuit(running.circuit.provider, False)
            self._gauges = asyncio.create_task(self._refresh_gauges(js), name="storybridge-gauges")
        log.info(
            "storybridge running",
            nats=self.nats_url,
            nats_auth=auth_method(s),
            nats_tls=s.nats_tls_ca is not None or s.nats_tls_cert is not None,
            stream_replicas=s.stream_replicas,
            prefix=s.subject_prefix,
            providers={
                name: {"base_url": r.base_url, "key": r.client.key.prefix}
                for name, r in self.running.items()
            },
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
            for c in (r.circuit for r in self.running.values())
            if c.is_open
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
        for running in self.running.values():
            await running.stop_services()
        if self.engine is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.engine.stop(), timeout=ENGINE_STOP_SECONDS)
        if self.broker is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.broker.stop(), timeout=BROKER_STOP_SECONDS)
        for running in self.running.values():
            await running.close()
        if self.embedded is not None:
            self.embedded.stop()
        if self.tracing is not None:
            await self.tracing.aclose()
        log.info("storybridge stopped")
