"""This replica's part of the fleet view: its summary in STORYBRIDGE_STATUS, the fleet gauges, and
the `admin.status` answer assembled from NATS (`bridge.nats.fleet`).

Every `interval` seconds a replica writes `r.<replica>` (the watches of the shards it holds, its
poll budgets, the credit balance it read, its recent event delays) and sets the gauges from what
NATS shows of the whole fleet. A replica answering `admin.status` reads the summaries of the
replicas the heartbeats name (the TTL drops a dead replica's) beside the streams, the consumer
and the leases, each read once, within `STATUS_DEADLINE_SECONDS` (the CLI waits 10 s): a section
that fails or runs out of time is named in `errors` and left empty, the rest is still answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import structlog
from nats.js.client import JetStreamContext
from nats.js.kv import KeyValue

from bridge.http.ratelimit import RateBudget
from bridge.names import PARKED_STREAM
from bridge.nats.fleet import (
    REPORT_PREFIX,
    BeatClock,
    CommandsView,
    Ownership,
    commands_view,
    dead_letter_view,
    iso,
    open_circuits,
    ownership,
    replica_reports,
)
from bridge.ops.fleet_metrics import RECENT_WINDOW_SECONDS, STALE_AFTER_REPORTS, bucket_quantile
from bridge.ops.metrics import EVENT_DELAY_BUCKETS, Metrics
from bridge.watch import WatchEngine
from bridge.watch.model import SHARDS
from schemas.wire.status import FleetStatus

log = structlog.get_logger(__name__)
T = TypeVar("T")

REPORT_SECONDS = 5.0
DEAD_SHOWN_SECONDS = 3600.0
STATUS_DEADLINE_SECONDS = 6.0  # under the CLI's 10 s: an answer nobody waits for is wasted work
DEAD_LETTER_SAMPLE = 100  # sequential reads for byReason; count, oldest and byCommand are exact


def _age(moment: datetime | None, now: datetime) -> float | None:
    return None if moment is None else round(max(0.0, (now - moment).total_seconds()), 3)


class FleetReporter:
    """Writes this replica's summary and the fleet gauges; answers `admin.status`."""

    def __init__(
        self,
        js: JetStreamContext,
        *,
        engine: WatchEngine,
        status: KeyValue,
        circuits: KeyValue | None,
        budgets: Mapping[str, RateBudget],
        poll_share: float,
        prefix: str,
        metrics: Metrics | None = None,
        credits: Mapping[str, Any] | None = None,
        credits_threshold: float | None = None,
        running: Callable[[], int] = lambda: 0,
        interval: float = REPORT_SECONDS,
    ) -> None:
        self.js, self.engine, self.status, self.circuits = js, engine, status, circuits
        self.budgets = dict(budgets)
        self.poll_share = poll_share
        self.prefix = prefix
        self.metrics = metrics
        self.credits = dict(credits or {})  # provider -> an object with `.balance`
        self.credits_threshold = credits_threshold
        self.running = running  # durable commands this replica is executing right now
        self.interval = interval
        self.replica = engine.settings.replica_id
        self._task: asyncio.Task[None] | None = None
        # Set by stop(): a status answered while stopping must not write back the summary the
        # stop deletes.
        self._stopping = False
        self._beats = BeatClock()  # heartbeat liveness on our own clock (bridge.nats.fleet)

    @classmethod
    def of(cls, bridge: Any, js: JetStreamContext, status: KeyValue) -> FleetReporter:
        """The reporter of a started `bridge.runtime.Bridge` (its engine, clients, circuits)."""
        running = bridge.running.items()
        return cls(
            js,
            engine=bridge.engine,
            status=status,
            circuits=bridge.circuits,
            budgets={name: r.client.budget for name, r in running},
            poll_share=bridge.engine.settings.poll_budget_share,
            prefix=bridge.settings.subject_prefix,
            metrics=bridge.metrics,
            credits={name: r.credits for name, r in running if r.credits is not None},
            credits_threshold=bridge.settings.credits_low_threshold,
            # The intake starts after the executor this reporter is handed to: asked lazily.
            running=lambda: bridge.intake.running if bridge.intake is not None else 0,
        )

    # --- this replica -------------------------------------------------------------------------
    def watch_counts(self) -> dict[tuple[str, str, str], int]:
        """(provider, resource, state) -> watches of the shards held here."""
        return self.engine.watch_counts()

    def poll_budgets(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for provider, budget in self.budgets.items():
            grants, commands = budget.window_use()
            out[provider] = {
                "usedPerMinute": grants - commands,
                "limitPerMinute": round(budget.poll_capacity(self.poll_share) * 60, 3),
            }
        return out

    def summary(self) -> dict[str, Any]:
        delays = self.metrics.delay_summary() if self.metrics is not None else None
        return {
            "replica": self.replica,
            "at": time.time(),
            "watches": [
                {"provider": p, "resource": r, "state": s, "count": n}
                for (p, r, s), n in sorted(self.watch_counts().items())
            ],
            "pollBudget": self.poll_budgets(),
            "credits": {p: getattr(c, "balance", None) for p, c in self.credits.items()},
            "eventDelay": delays,
            "outboxFailing": self.engine.failing_records,
            "commandsRunning": self.running(),
        }

    # --- the loop -------------------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="storybridge-fleet-report")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        # A planned stop leaves no summary behind; with NATS away the TTL removes it instead, and
        # the stop (bounded by the grace period) does not wait for NATS.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.status.delete(f"{REPORT_PREFIX}{self.replica}"), 1.0)

    async def _loop(self) -> None:
        last_ok = time.monotonic()
        while True:
            try:
                await self.report()
                last_ok = time.monotonic()
            except Exception as err:  # NATS away: what we read of the fleet goes stale
                log.warning("fleet report failed", error=repr(err))
                if time.monotonic() - last_ok >= STALE_AFTER_REPORTS * self.interval:
                    self.mark_stale()
            await asyncio.sleep(self.interval)

    def mark_stale(self) -> None:
        """The fleet-wide gauges read NaN, so max() across replicas takes a fresh replica's."""
        if self.metrics is not None:
            self.metrics.fleet.mark_stale()
            self.metrics.dead_letters.set(math.nan)

    async def publish_summary(self) -> dict[str, Any]:
        """Write this replica's summary to STORYBRIDGE_STATUS (unless it is stopping)."""
        summary = self.summary()
        if not self._stopping:
            await self.status.put(f"{REPORT_PREFIX}{self.replica}", json.dumps(summary).encode())
        return summary

    async def report(self) -> None:
        """Write this replica's summary, then set the gauges from the fleet."""
        summary = await self.publish_summary()
        if self.metrics is None:
            return
        g = self.metrics.fleet
        now = time.time()
        owners = self._ownership(now)
        g.replicas_alive.set(len(owners.alive(now)))
        g.shards_owned.set(len(owners.held.get(self.replica, [])))
        g.shards_unowned.set(len(owners.unowned))
        g.set_watches(self.watch_counts())
        for provider, budget in summary["pollBudget"].items():
            g.poll_budget_used_per_minute.labels(provider=provider).set(budget["usedPerMinute"])
            g.poll_budget_limit_per_minute.labels(provider=provider).set(budget["limitPerMinute"])
        if self.credits_threshold is not None:
            g.credits_low_threshold.set(self.credits_threshold)
        g.outbox_failing_records.set(summary["outboxFailing"])
        wall = datetime.now(UTC)
        alive = owners.alive(now)
        commands = await self._commands(await replica_reports(self.status, alive), alive)
        g.commands_pending.set(commands.pending)
        g.commands_ack_pending.set(commands.ack_pending)
        g.commands_oldest_age_seconds.set(_age(commands.oldest_at, wall) or 0.0)
        g.commands_oldest_delivered_age_seconds.set(_age(commands.oldest_delivered_at, wall) or 0.0)
        dead = await dead_letter_view(self.js)
        self.metrics.set_dead_letters(dead.count)
        g.dead_letters_oldest_age_seconds.set(_age(dead.oldest_at, wall) or 0.0)
        g.report_timestamp_seconds.set(now)

    async def _commands(self, reports: Mapping[str, Any] | None, alive: list[str]) -> CommandsView:
        """The consumer's view, with `parked` = the messages of STORYBRIDGE_PARKED: a durable
        command that waits is parked there, outside the consumer (bridge/nats/parking.py), so its
        count is exact; `storybridge_commands_parked_now{provider}` exports the same by provider.
        When the stream cannot be read: unsettled minus what live replicas are running."""
        view = await commands_view(self.js)
        try:
            view.parked = int((await self.js.stream_info(PARKED_STREAM)).state.messages)
            return view
        except Exception:
            pass
        if reports is None:
            return view
        running = sum(int(reports[r].get("commandsRunning") or 0) for r in alive if r in reports)
        view.parked = max(view.parked, view.ack_pending - running)
        return view

    def _ownership(self, now: float) -> Ownership:
        control = self._control()
        return ownership(control, SHARDS, now, self._beats.observe(control, time.monotonic()))

    def _control(self) -> dict[str, bytes]:
        """The lease and heartbeat keys, from the engine's live mirror of them."""
        return {key: entry.value for key, entry in list(self.engine.store.control.items())}

    # --- admin.status ---------------------------------------------------------------------------
    async def fleet_status(
        self, *, dead_letter_sample: int = DEAD_LETTER_SAMPLE, deadline: float | None = None
    ) -> dict[str, Any]:
        """The `admin.status` document (schemas.wire.status.FleetStatus), from NATS: each source
        read once, within `deadline` seconds; a failed section is named in `errors`."""
        due = time.monotonic() + (STATUS_DEADLINE_SECONDS if deadline is None else deadline)
        errors: dict[str, str] = {}

        async def section(name: str, read: Awaitable[T], empty: T) -> T:
            try:
                return await asyncio.wait_for(read, max(0.1, due - time.monotonic()))
            except Exception as err:  # one source down or slow: say which, answer the rest
                errors[name] = (
                    f"{type(err).__name__}: {err}"[:200] if str(err) else type(err).__name__
                )
                return empty

        # Our own summary fresh (this very replica in the answer), without the whole report:
        # the consumer and the streams are read once, below.
        await section("summary", self.publish_summary(), {})
        now, wall = time.time(), datetime.now(UTC)
        owners = self._ownership(now)
        alive = owners.alive(now)
        # A dead replica's heartbeat stays in the bucket; it is shown for an hour, then forgotten.
        recent = {
            r for r, beat in owners.heartbeats.items() if beat.expires_at > now - DEAD_SHOWN_SECONDS
        }
        reports = await section("replicas", replica_reports(self.status, recent), {})
        commands, dead, opened = await asyncio.gather(
            section(
                "commands", self._commands(None if "replicas" in errors else reports, alive), None
            ),
            section(
                "deadLetters",
                dead_letter_view(self.js, sample=dead_letter_sample, until=due - 0.5),
                None,
            ),
            section("circuits", open_circuits(self.circuits), None),
        )
        replicas = []
        for rid in sorted(recent | set(reports)):
            beat = owners.heartbeats.get(rid)
            renewed = beat.renewed_at if beat is not None else None
            if beat is not None and beat.unchanged_for is not None and beat.seen_changing:
                age: float | None = round(beat.unchanged_for, 3)  # on our clock, no skew
            else:
                age = round(now - renewed, 3) if renewed else None
            replicas.append(
                {
                    "id": rid,
                    "alive": rid in alive,
                    "heartbeatAgeSeconds": age,
                    "shards": owners.held.get(rid, []) if rid in alive else [],
                    "reported": rid in reports,
                }
            )
        live_reports = {rid: r for rid, r in reports.items() if rid in alive}
        doc = {
            "generatedAt": iso(wall),
            "answeredBy": self.replica,
            "prefix": self.prefix,
            "replicas": replicas,
            "shards": {
                "total": owners.total,
                "owned": owners.total - len(owners.unowned),
                "unowned": owners.unowned,
            },
            "watches": _watches(live_reports),
            "circuits": self._circuits(opened),
            "commands": None
            if commands is None
            else {
                "pending": commands.pending,
                "ackPending": commands.ack_pending,
                "parked": commands.parked,
                "oldestAgeSeconds": _age(commands.oldest_at, wall),
                "oldestAt": iso(commands.oldest_at),
                "oldestDeliveredAgeSeconds": _age(commands.oldest_delivered_at, wall),
            },
            "deadLetters": None
            if dead is None
            else {
                "count": dead.count,
                "oldestAgeSeconds": _age(dead.oldest_at, wall),
                "oldestAt": iso(dead.oldest_at),
                "byReason": dict(sorted(dead.by_reason.items())),
                "byCommand": dict(sorted(dead.by_command.items())),
                "sampled": dead.sampled,
            },
            "credits": self._credits(live_reports),
            "pollBudget": _budgets(live_reports),
            "eventDelay": self._delay(live_reports),
            "errors": errors,
        }
        # Validated against the documented shape: a field renamed here fails the tests, not users.
        return FleetStatus.model_validate(doc).model_dump(mode="json")

    def _circuits(self, opened: dict[str, dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        """Every provider, open or closed; None when the circuits could not be read (not
        "all closed")."""
        if opened is None:
            return None
        providers = set(self.budgets) | set(opened)
        return [
            {
                "provider": p,
                "open": p in opened,
                "code": opened.get(p, {}).get("code"),
                "since": opened.get(p, {}).get("since"),
            }
            for p in sorted(providers)
        ]

    def _credits(self, reports: Mapping[str, Any]) -> list[dict[str, Any]]:
        balances: dict[str, float | None] = {p: None for p in self.budgets}
        for report in reports.values():
            for provider, balance in (report.get("credits") or {}).items():
                if balance is not None:
                    balances[provider] = balance
        return [
            {"provider": p, "balance": b, "lowThreshold": self.credits_threshold}
            for p, b in sorted(balances.items())
        ]

    def _delay(self, reports: Mapping[str, Any]) -> dict[str, Any]:
        own = self.metrics.delay_summary() if self.metrics is not None else {}
        merged = [0] * (len(EVENT_DELAY_BUCKETS) + 1)
        for report in reports.values():
            buckets = (report.get("eventDelay") or {}).get("buckets") or []
            for i, n in enumerate(buckets[: len(merged)]):
                merged[i] += int(n)
        return {
            "windowSeconds": RECENT_WINDOW_SECONDS,
            "count": int(own.get("count") or 0),
            "p50": own.get("p50"),
            "p95": own.get("p95"),
            "max": own.get("max"),
            "fleetP50": bucket_quantile(merged, EVENT_DELAY_BUCKETS, 0.5),
            "fleetP95": bucket_quantile(merged, EVENT_DELAY_BUCKETS, 0.95),
            "fleetCount": sum(merged),
        }


def _watches(reports: Mapping[str, Any]) -> list[dict[str, Any]]:
    counts: Counter[tuple[str, str, str]] = Counter()
    for report in reports.values():
        for row in report.get("watches") or []:
            counts[(row["provider"], row["resource"], row["state"])] += int(row["count"])
    return [
        {"provider": p, "resource": r, "state": s, "count": n}
        for (p, r, s), n in sorted(counts.items())
    ]


def _budgets(reports: Mapping[str, Any]) -> list[dict[str, Any]]:
    used: Counter[str] = Counter()
    limit: dict[str, float] = {}
    for report in reports.values():
        for provider, budget in (report.get("pollBudget") or {}).items():
            used[provider] += int(budget.get("usedPerMinute") or 0)
            limit[provider] = limit.get(provider, 0.0) + float(budget.get("limitPerMinute") or 0)
    return [
        {"provider": p, "usedPerMinute": used[p], "limitPerMinute": round(limit[p], 3)}
        for p in sorted(limit)
    ]
