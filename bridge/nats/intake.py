"""The durable way in: the JetStream consumers of `{p}.cmd.>` and of the parked commands
(request/reply: bridge/nats/service_api.py).

The durable loops are hand-written on nats-py rather than faststream's concurrent pull subscriber,
because that one fetches ahead of its workers and lets fetched messages age past `ack_wait`
(faststream #2563). Here a fetch asks for exactly as many messages as there are free slots, so
in-flight work is bounded and nothing sits unacknowledged in memory.

Two lanes, each with its own consumer and its own slots: *commands* (fresh ones, the consumer
`storybridge`) and *parked* (commands waiting for their next attempt, bridge/nats/parking.py). A
command that has to wait never stays in the commands consumer's ack-pending window, and a crowd of
parked commands coming due never takes a slot from a fresh command.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from bridge.commands import CommandExecutor, Execution
from bridge.failures import INVALID_COMMAND, UPSTREAM_UNAVAILABLE
from bridge.http.transport import one_try
from bridge.names import (
    COMMANDS_CONSUMER,
    COMMANDS_STREAM,
    PARKED_CONSUMER,
    PARKED_STREAM,
    Subjects,
)
from bridge.nats.deadletters import (
    DEADLINE,
    MAX_DELIVERIES,
    UNPROCESSABLE,
    DeadLetters,
    exhausted_outcome,
    stream_created,
)
from bridge.nats.gates import ROUTE_BUSY, ROUTE_FAILING, Hold, RouteGates
from bridge.nats.lanes import (
    DurableRetry,
    Lane,
    Settled,
    WaveOrder,
    finish,
    hand_back_pending,
    origin_seq,
)
from bridge.nats.outcomes import OutcomePublisher
from bridge.nats.parking import (
    CIRCUIT_OPEN,
    RETRYING,
    Parked,
    fresh,
    park,
    source_of,
    unparked,
)
from schemas.catalog import COMMAND_MODELS, COMMAND_ROUTES

log = structlog.get_logger(__name__)

# A failure of our own plumbing (e.g. NATS briefly unavailable while publishing the outcome) hands the
# command back on the retry schedule, at most this late; the API call replays under the same key.
PLUMBING_MAX_DELAY = 30.0
# After the grace period, how long cancelled commands get to hand their messages back.
CANCEL_WAIT_SECONDS = 5.0
FETCH_TIMEOUT = 1.0
FETCH_STOP_SECONDS = FETCH_TIMEOUT + 1.0  # on stop: a fetch under way comes back within this

# A held command asks again at least this often, so a recovery another replica saw reaches this
# one's holds within it; the price is a fetch and a nak per held command per interval.
HOLD_MAX_SECONDS = 4.0
CircuitHold = Callable[[str], float | None]
ParkHook = Callable[[str, str], None]  # (reason, provider): one command parked or held


def provider_of(name: str | None) -> str:
    return str(getattr(COMMAND_MODELS.get(name or ""), "provider", "story"))


class DurableIntake:
    """Consumes `{p}.cmd.>` and the parked commands through shared durable consumers.

    Per message: execute (one try at the API: the durable schedule is the retry), then exactly one of
    * ack (term for `invalid_command`) after publishing the final outcome;
    * park (re-publish, then ack) after publishing `command.retrying`, while the outcome is
      retryable and the command is younger than its deadline;
    * dead-letter, when it is past the deadline or on its last attempt.
    Before executing, a command whose provider's circuit is open or whose route is failing or busy
    (bridge/nats/gates.py) is held instead: parked (fresh) or nak'ed until then (parked), with no
    attempt. A failure of our own plumbing naks with a short delay; on the last delivery of a fresh
    command it dead-letters.
    """

    def __init__(
        self,
        js: JetStreamContext,
        executor: CommandExecutor,
        outcomes: OutcomePublisher,
        subjects: Subjects,
        *,
        max_in_flight: int,
        ack_wait: float,
        retry: DurableRetry,
        dead_letters: DeadLetters,
        redeclare: Callable[[], Awaitable[object]] | None = None,
        on_execution: Any = None,
        on_retry: Callable[[str], None] | None = None,
        gates: RouteGates | None = None,
        circuit_hold: CircuitHold | None = None,
        on_park: ParkHook | None = None,
    ) -> None:
        self.js = js
        self.executor = executor
        self.outcomes = outcomes
        self.subjects = subjects
        self.max_in_flight = max_in_flight
        self.ack_wait = ack_wait
        self.heartbeat_every = max(ack_wait / 3, 0.5)
        self.retry = retry
        self.dead_letters = dead_letters
        self.redeclare = redeclare
        self.on_execution = on_execution
        self.on_retry = on_retry
        self.gates = gates
        self.circuit_hold = circuit_hold
        self.on_park = on_park
        self.lanes = [
            Lane(
                "commands",
                COMMANDS_STREAM,
                COMMANDS_CONSUMER,
                False,
                asyncio.Semaphore(max_in_flight),
            ),
            Lane("parked", PARKED_STREAM, PARKED_CONSUMER, True, asyncio.Semaphore(max_in_flight)),
        ]
        self._waves = WaveOrder()
        self._stopping = asyncio.Event()
        self._stream_created = datetime.fromtimestamp(0, UTC)

    @property
    def bound(self) -> bool:
        """True from a good bind of every lane until a fetch error: what readiness combines with a
        round trip."""
        return all(lane.bound for lane in self.lanes)

    @property
    def running(self) -> int:  # fresh and parked, for the fleet report
        return sum(len(lane.inflight) for lane in self.lanes)

    async def start(self) -> None:
        for lane in self.lanes:
            lane.task = asyncio.create_task(self._fetch_loop(lane), name=f"storybridge-{lane.name}")

    async def healthy(self, timeout: float = 0.5) -> bool:
        """A real round trip to the consumer (not a flag): False while it cannot be fetched from."""
        if not self.bound or any(lane.task is None or lane.task.done() for lane in self.lanes):
            return False
        try:
            await self.js.consumer_info(COMMANDS_STREAM, COMMANDS_CONSUMER, timeout=timeout)
        except Exception:
            return False
        return True

    async def _bind(self, lane: Lane) -> JetStreamContext.PullSubscription:
        try:
            sub = await self.js.pull_subscribe_bind(durable=lane.consumer, stream=lane.stream)
            await self.js.consumer_info(lane.stream, lane.consumer)
        except NotFoundError:
            # The stream or consumer is gone (a server that lost its store): declare them again.
            if self.redeclare is None:
                raise
            log.warning("consumer missing; declaring it again", consumer=lane.consumer)
            await self.redeclare()
            sub = await self.js.pull_subscribe_bind(durable=lane.consumer, stream=lane.stream)
        if not lane.parked:
            # The fallback commandId names the stream's lifetime: read it whenever we (re)bind.
            self._stream_created = await stream_created(self.js)
        lane.sub = sub
        lane.bound = True
        return sub

    async def _fetch_loop(self, lane: Lane) -> None:
        sub: JetStreamContext.PullSubscription | None = None
        while not self._stopping.is_set():
            try:
                if sub is None:
                    sub = await self._bind(lane)
                await self._fetch_some(lane, sub)
            except asyncio.CancelledError:
                raise
            except Exception as err:
                # Pull subscriptions are not always restored after a server restart (nats.py #504),
                # and a restarting server answers fetches with 503s: re-bind, whatever it was.
                if lane.bound:
                    log.warning("intake fetch failed; re-binding", lane=lane.name, error=repr(err))
                lane.bound = False
                if sub is not None:
                    with contextlib.suppress(Exception):
                        await sub.unsubscribe()
                sub = lane.sub = None
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), 1.0)

    async def _take_slot(self, lane: Lane) -> bool:
        """One free slot, or False once stopping (a loop waiting for slots must notice the stop)."""
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lane.slots.acquire(), 0.5)
                return True
        return False

    async def _fetch_some(self, lane: Lane, sub: JetStreamContext.PullSubscription) -> None:
        """Fetch as many messages as there are free slots; every slot taken is given back or
        handed to a task, on every path."""
        if not await self._take_slot(lane):
            return
        taken = 1
        try:
            # Take every other free slot too, without waiting for them.
            while taken < self.max_in_flight and not lane.slots.locked():
                await lane.slots.acquire()
                taken += 1
            try:
                msgs = await sub.fetch(batch=taken, timeout=FETCH_TIMEOUT)
            except (TimeoutError, NatsTimeoutError):
                msgs = []
            if lane.parked:
                # Commands released together start oldest first (their original sequence).
                msgs.sort(key=origin_seq)
            for msg in msgs:
                if self._stopping.is_set():
                    # Fetched but not started: hand it back at once, not after the ack wait.
                    with contextlib.suppress(Exception):
                        await msg.nak()
                    continue
                task = asyncio.create_task(self._handle(lane, msg))
                lane.inflight.add(task)
                task.add_done_callback(functools.partial(self._done, lane))
                taken -= 1
        finally:
            for _ in range(taken):
                lane.slots.release()

    @staticmethod
    def _done(lane: Lane, task: asyncio.Task[None]) -> None:
        lane.inflight.discard(task)
        lane.slots.release()

    async def _heartbeat(self, msg: Msg) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_every)
            with contextlib.suppress(Exception):
                await msg.in_progress()

    async def _handle(self, lane: Lane, msg: Msg) -> None:
        beat = asyncio.create_task(self._heartbeat(msg))
        meta = msg.metadata
        last_delivery = False
        try:
            if lane.parked:
                try:
                    cmd = unparked(msg, self.subjects)
                except (KeyError, ValueError) as err:
                    # Not written by a bridge: nothing can run it, and nothing says whose it is.
                    log.error(
                        "unreadable parked message dropped", subject=msg.subject, error=repr(err)
                    )
                    await finish(msg, Settled("term"))
                    return
                attempt = cmd.attempts + 1
            else:
                cmd = fresh(msg, self._stream_created)
                # A redelivered fresh command was tried before (a crash, a lost ack).
                attempt = meta.num_delivered
                last_delivery = meta.num_delivered >= self.retry.max_deliver > 0
            held, admitted = await self._waits(lane, msg, cmd)
            if not held:
                await self._run(msg, cmd, attempt, admitted)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await msg.nak()  # hand it back: another replica (or we, later) replays it
            raise
        except Exception as err:
            log.warning("command handed back after a plumbing failure", error=repr(err))
            await self._plumbing_failed(msg, lane, last=last_delivery)
        finally:
            beat.cancel()

    def _deadline(self, cmd: Parked) -> datetime:
        return cmd.grave.stored_at + timedelta(seconds=self.retry.deadline_seconds)

    async def _waits(self, lane: Lane, msg: Msg, cmd: Parked) -> tuple[bool, str | None]:
        """Hold the command instead of running it (True) when it is not due yet, its provider's
        circuit is open or its route is failing or busy; else the route its gate admitted it on
        (None: no gate asked), which `_run` settles."""
        now = datetime.now(UTC)
        deadline = self._deadline(cmd)
        if lane.parked:
            if now >= deadline + timedelta(seconds=2 * self.ack_wait + 60):
                # Tried past its deadline and never settled (a crash loop): nothing else ends it.
                outcome = exhausted_outcome(cmd.grave, self.subjects)
                await self.dead_letters.bury(cmd.grave, reason=UNPROCESSABLE, outcome=outcome)
                await finish(msg, Settled("ack"))
                return True, None
            due = cmd.not_before - now.timestamp()
            if due > 0:
                await finish(msg, Settled("nak", due))
                return True, None
        if now >= deadline:
            return False, None  # its last attempt is owed, whatever holds the others
        name = self.subjects.command_name(cmd.grave.subject)
        provider = provider_of(name)
        hold: Hold | None = None
        wait = self.circuit_hold(provider) if self.circuit_hold is not None else None
        if wait is not None and lane.parked:
            # A fresh command tries once (nothing is sent, it learns the circuit's code).
            hold = Hold(wait, CIRCUIT_OPEN)
        route = COMMAND_ROUTES.get(name or "")
        if hold is None and wait is None and route is not None and self.gates is not None:
            hold = self.gates.admit(route, provider)
            if hold is None:
                return False, route
        if hold is None:
            return False, None
        # What a probe's pass releases at once comes back oldest first (bridge/nats/lanes.py);
        # a route that is only busy releases a slot at a time, in no wave.
        spread = 0.0
        if hold.reason != ROUTE_BUSY:
            held_by = f"{hold.reason}:{provider if hold.reason == CIRCUIT_OPEN else route}"
            spread = self._waves.spread(held_by, cmd.grave.stream_seq, now.timestamp())
        seconds = min(
            min(hold.seconds, HOLD_MAX_SECONDS) + spread, (deadline - now).total_seconds()
        )
        if self.on_park is not None:
            self.on_park(hold.reason, provider)
        if not lane.parked:
            not_before = now.timestamp() + seconds
            await self._park(msg, cmd, 0, not_before, hold.reason)
        await finish(msg, Settled("nak", seconds) if lane.parked else Settled("ack"))
        return True, None

    async def _run(self, msg: Msg, cmd: Parked, attempt: int, admitted: str | None) -> None:
        grave = cmd.grave
        name = self.subjects.command_name(grave.subject)
        healthy: bool | None = None
        try:
            with one_try():
                execution = await self.executor.execute(
                    name,
                    grave.data,
                    grave.headers,
                    # Stable across redeliveries and parking, so a command without commandId
                    # still replays.
                    fallback_id=grave.fallback_id,
                    subject=grave.subject,
                )
            healthy = self._route_health(execution)
        finally:
            if admitted is not None and self.gates is not None:
                self.gates.settle(admitted, healthy)
        if self.on_execution is not None:
            self.on_execution(execution, "durable", grave.stored_at)  # latency from first arrival
        settled = await self._settle(msg, cmd, execution, attempt)
        await finish(msg, settled)

    def _route_health(self, execution: Execution) -> bool | None:
        error = execution.outcome.error
        if error is None or not error.retryable:
            return True  # the route answered
        provider = provider_of(execution.outcome.command)
        if self.circuit_hold is not None and self.circuit_hold(provider) is not None:
            return None  # the account, not the route
        if error.status == 429:
            return None  # the key's budget, not the route
        return False if error.code == UPSTREAM_UNAVAILABLE else None

    def _next_delay(self, name: str | None, attempt: int) -> tuple[float, str]:
        """When to try again, and why: just after the circuit's next probe, when a failing route
        is probed next, else the retry schedule."""
        wait = self.circuit_hold(provider_of(name)) if self.circuit_hold is not None else None
        if wait is not None:
            return wait, CIRCUIT_OPEN
        route = COMMAND_ROUTES.get(name or "")
        failing = self.gates.failing(route) if self.gates is not None and route else None
        if failing is not None:
            return failing, ROUTE_FAILING
        return self.retry.delay(attempt), RETRYING

    async def _settle(self, msg: Msg, cmd: Parked, execution: Execution, attempt: int) -> Settled:
        grave = cmd.grave
        outcome = execution.outcome
        token = f"js-{grave.stream_seq}-{attempt}"
        if not outcome.retryable:
            await self.outcomes.publish(outcome, token=token, trace=execution.trace)
            error = outcome.error
            # never redeliver what can never succeed
            return Settled("term" if error and error.code == INVALID_COMMAND else "ack")
        now = datetime.now(UTC)
        deadline = self._deadline(cmd)
        delay, reason = self._next_delay(outcome.command, attempt)
        # Attempts count towards max_deliver on the retry schedule only: a command held by a
        # failing route or circuit is a probe whenever the gate says, and ends at its deadline.
        last = reason == RETRYING and attempt >= self.retry.max_deliver > 0
        if now >= deadline or last:
            reason = DEADLINE if now >= deadline else MAX_DELIVERIES
            buried = replace(grave, deliveries=attempt)
            await self.dead_letters.bury(buried, reason=reason, outcome=outcome)
            return Settled("ack")
        delay = max(min(delay, (deadline - now).total_seconds()), 0.0)
        next_at = now + timedelta(seconds=delay)
        await self.outcomes.publish(
            outcome,
            token=token,
            trace=execution.trace,
            event="retrying",
            extra={
                "attempt": attempt,
                "nextAttemptAt": next_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            },
        )
        if self.on_retry is not None:
            self.on_retry(outcome.command)
        if self.on_park is not None:
            self.on_park(reason, provider_of(outcome.command))
        # Held by a circuit or a route, it is due at once: the hold (rechecked every few seconds)
        # decides, so a recovery another replica saw releases it.
        not_before = next_at.timestamp() if reason == RETRYING else now.timestamp()
        await self._park(msg, cmd, attempt, not_before, reason)
        return Settled("ack")

    async def _park(
        self, msg: Msg, cmd: Parked, attempts: int, not_before: float, reason: str
    ) -> None:
        source = source_of(msg, self.subjects)  # the copy's dedup id names the message parked
        await park(
            self.js, self.subjects, cmd, attempts=attempts, not_before=not_before, reason=reason,
            source=source,
        )  # fmt: skip

    async def _plumbing_failed(self, msg: Msg, lane: Lane, *, last: bool) -> None:
        """Our own failure before anything was settled: try again later, backing off like a
        retry; on a fresh command's last delivery, bury it (a parked one ends at its deadline)."""
        deliveries = msg.metadata.num_delivered
        if last:
            grave = fresh(msg, self._stream_created).grave
            outcome = exhausted_outcome(grave, self.subjects)
            with contextlib.suppress(Exception):
                await self.dead_letters.bury(grave, reason=UNPROCESSABLE, outcome=outcome)
                await msg.ack_sync()
                return
        delay = min(self.retry.delay(deliveries), PLUMBING_MAX_DELAY)
        with contextlib.suppress(Exception):
            await msg.nak(delay=delay)

    async def stop(self, grace: float) -> None:
        """Stop fetching (a fetch under way ends within its timeout; what it brings is handed
        back at once), let in-flight commands finish within `grace`, hand back the rest."""
        self._stopping.set()
        # One grace for all of it (the shutdown budget counts it once): the fetches' end is
        # awaited within it, not before it.
        until = asyncio.get_running_loop().time() + grace
        loops = [lane.task for lane in self.lanes if lane.task is not None]
        if loops:
            _, running = await asyncio.wait(loops, timeout=min(FETCH_STOP_SECONDS, grace))
            for task in running:
                task.cancel()
            for task in running:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        for lane in self.lanes:
            await hand_back_pending(lane)
        inflight = {task for lane in self.lanes for task in lane.inflight}
        if inflight:
            left = max(0.0, until - asyncio.get_running_loop().time())
            _, pending = await asyncio.wait(inflight, timeout=left)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=CANCEL_WAIT_SECONDS)
        # A pull subscription left open makes the connection's drain wait out its whole timeout.
        for lane in self.lanes:
            if lane.sub is not None:
                with contextlib.suppress(Exception):
                    await lane.sub.unsubscribe()
                lane.sub = None
            lane.bound = False
