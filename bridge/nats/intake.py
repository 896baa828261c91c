"""The durable way in: the JetStream consumer of `{p}.cmd.>` (request/reply: bridge/nats/service_api.py).

The durable loop is hand-written on nats-py rather than faststream's concurrent pull subscriber, because
that one fetches ahead of its workers and lets fetched messages age past `ack_wait` (faststream #2563).
Here a fetch asks for exactly as many messages as there are free slots, so in-flight work is bounded
and nothing sits unacknowledged in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import structlog
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from bridge.commands import CommandExecutor, Execution
from bridge.config import retry_delay
from bridge.failures import INVALID_COMMAND
from bridge.nats.deadletters import (
    DEADLINE,
    MAX_DELIVERIES,
    UNPROCESSABLE,
    DeadLetters,
    Grave,
    exhausted_outcome,
    stream_created,
)
from bridge.nats.outcomes import OutcomePublisher
from bridge.nats.streams import COMMANDS_CONSUMER, COMMANDS_STREAM, Subjects

log = structlog.get_logger(__name__)

# A failure of our own plumbing (e.g. NATS briefly unavailable while publishing the outcome) hands the
# command back on the retry schedule, at most this late; the API call replays under the same key.
PLUMBING_MAX_DELAY = 30.0
ACK_ATTEMPTS = 4
# After the grace period, how long cancelled commands get to hand their messages back.
CANCEL_WAIT_SECONDS = 5.0


class DurableIntake:
    """Consumes `{p}.cmd.>` through the shared durable consumer, with explicit acks.

    Per message: execute, then exactly one of
    * ack (term for `invalid_command`) after publishing the final outcome;
    * nak with a growing delay after publishing `command.retrying`, while the outcome is retryable
      and the command is younger than its deadline;
    * dead-letter, when it is past the deadline or on its last delivery.
    A failure of our own plumbing naks with a short delay; on the last delivery it dead-letters.
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
    ) -> None:
        self.js = js
        self.executor = executor
        self.outcomes = outcomes
        self.subjects = subjects
        self.max_in_flight = max_in_flight
        self.heartbeat_every = max(ack_wait / 3, 0.5)
        self.retry = retry
        self.dead_letters = dead_letters
        self.redeclare = redeclare
        self.on_execution = on_execution
        self.on_retry = on_retry
        self._slots = asyncio.Semaphore(max_in_flight)
        self._inflight: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._sub: JetStreamContext.PullSubscription | None = None
        self._stream_created = datetime.fromtimestamp(0, UTC)
        # True from a good bind until the next fetch error: what readiness combines with a round trip.
        self.bound = False

    async def start(self) -> None:
        self._loop_task = asyncio.create_task(self._fetch_loop(), name="storybridge-intake")

    async def healthy(self, timeout: float = 0.5) -> bool:
        """A real round trip to the consumer (not a flag): False while it cannot be fetched from."""
        if not self.bound or self._loop_task is None or self._loop_task.done():
            return False
        try:
            await self.js.consumer_info(COMMANDS_STREAM, COMMANDS_CONSUMER, timeout=timeout)
        except Exception:
            return False
        return True

    async def _bind(self) -> JetStreamContext.PullSubscription:
        try:
            sub = await self.js.pull_subscribe_bind(
                durable=COMMANDS_CONSUMER, stream=COMMANDS_STREAM
            )
            await self.js.consumer_info(COMMANDS_STREAM, COMMANDS_CONSUMER)
        except NotFoundError:
            # The stream or consumer is gone (a server that lost its store): declare them again.
            if self.redeclare is None:
                raise
            log.warning("commands consumer missing; declaring it again")
            await self.redeclare()
            sub = await self.js.pull_subscribe_bind(
                durable=COMMANDS_CONSUMER, stream=COMMANDS_STREAM
            )
        # The fallback commandId names the stream's lifetime: read it whenever we (re)bind.
        self._stream_created = await stream_created(self.js)
        self._sub = sub
        self.bound = True
        return sub

    async def _fetch_loop(self) -> None:
        sub: JetStreamContext.PullSubscription | None = None
        while not self._stopping.is_set():
            try:
                if sub is None:
                    sub = await self._bind()
                await self._fetch_some(sub)
            except asyncio.CancelledError:
                raise
            except Exception as err:
                # Pull subscriptions are not always restored after a server restart (nats.py #504),
                # and a restarting server answers fetches with 503s: re-bind, whatever it was.
                if self.bound:
                    log.warning("intake fetch failed; re-binding", error=repr(err))
                self.bound = False
                if sub is not None:
                    with contextlib.suppress(Exception):
                        await sub.unsubscribe()
                sub = None
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), 1.0)

    async def _fetch_some(self, sub: JetStreamContext.PullSubscription) -> None:
        """Fetch as many messages as there are free slots; every slot taken is given back or
        handed to a task, on every path."""
        await self._slots.acquire()
        taken = 1
        try:
            # Take every other free slot too, without waiting for them.
            while taken < self.max_in_flight and not self._slots.locked():
                await self._slots.acquire()
                taken += 1
            try:
                msgs = await sub.fetch(batch=taken, timeout=1.0)
            except (TimeoutError, NatsTimeoutError):
                msgs = []
            for msg in msgs:
                task = asyncio.create_task(self._handle(msg))
                self._inflight.add(task)
                task.add_done_callback(self._done)
                taken -= 1
        finally:
            for _ in range(taken):
                self._slots.release()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._slots.release()

    async def _heartbeat(self, msg: Msg) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_every)
            with contextlib.suppress(Exception):
                await msg.in_progress()

    async def _handle(self, msg: Msg) -> None:
        beat = asyncio.create_task(self._heartbeat(msg))
        meta = msg.metadata
        grave = Grave(
            subject=msg.subject,
            data=msg.data,
            headers=msg.headers,
            stream_seq=meta.sequence.stream,
            stored_at=meta.timestamp,
            deliveries=meta.num_delivered,
            stream_created=self._stream_created,
        )
        last = meta.num_delivered >= self.retry.max_deliver > 0
        try:
            execution = await self.executor.execute(
                self.subjects.command_name(msg.subject),
                msg.data,
                msg.headers,
                # Stable across redeliveries, so a command without commandId still replays.
                fallback_id=grave.fallback_id,
                subject=msg.subject,
            )
            if self.on_execution is not None:
                # The message time: the command's latency counts from its publish (queue, retries).
                self.on_execution(execution, "durable", meta.timestamp)
            settled = await self._settle(msg, grave, execution, last=last)
            await self._finish(msg, settled)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await msg.nak()  # hand it back: another replica (or we, later) replays it
            raise
        except Exception as err:
            log.warning("command handed back after a plumbing failure", error=repr(err))
            await self._plumbing_failed(msg, grave, last=last)
        finally:
            beat.cancel()

    async def _finish(self, msg: Msg, settled: Settled) -> None:
        """Ack, term or nak; the outcome (or retry event, or dead letter) is out already, so a
        failing ack is only retried: it must never turn into a second, different ending."""
        for attempt in range(ACK_ATTEMPTS):
            try:
                if settled.how == "term":
                    await msg.term()
                elif settled.how == "nak":
                    await msg.nak(delay=settled.delay)
                else:
                    await msg.ack_sync()
                return
            except Exception as err:
                log.warning("ack failed; trying again", how=settled.how, error=repr(err))
                await asyncio.sleep(0.2 * 2**attempt)
        # Unacknowledged it is redelivered and replays under its Idempotency-Key: a duplicate
        # outcome at worst, never a lost command.

    async def _settle(self, msg: Msg, grave: Grave, execution: Execution, *, last: bool) -> Settled:
        outcome = execution.outcome
        token = f"js-{grave.stream_seq}-{grave.deliveries}"
        if not outcome.retryable:
            await self.outcomes.publish(outcome, token=token, trace=execution.trace)
            error = outcome.error
            # never redeliver what can never succeed
            return Settled("term" if error and error.code == INVALID_COMMAND else "ack")
        now = datetime.now(UTC)
        deadline = grave.stored_at + timedelta(seconds=self.retry.deadline_seconds)
        if now >= deadline or last:
            reason = DEADLINE if now >= deadline else MAX_DELIVERIES
            await self.dead_letters.bury(grave, reason=reason, outcome=outcome)
            return Settled("ack")
        delay = min(self.retry.delay(grave.deliveries), (deadline - now).total_seconds())
        delay = max(delay, 0.0)
        next_at = now + timedelta(seconds=delay)
        await self.outcomes.publish(
            outcome,
            token=token,
            trace=execution.trace,
            event="retrying",
            extra={
                "attempt": grave.deliveries,
                "nextAttemptAt": next_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            },
        )
        if self.on_retry is not None:
            self.on_retry(outcome.command)
        return Settled("nak", delay)

    async def _plumbing_failed(self, msg: Msg, grave: Grave, *, last: bool) -> None:
        """Our own failure before anything was settled (the outcome not published, a crash in the
        executor): try again later, backing off like a retry so an events-stream outage does
        not burn the deliveries; on the last one, bury it."""
        if last:
            outcome = exhausted_outcome(grave, self.subjects)
            with contextlib.suppress(Exception):
                await self.dead_letters.bury(grave, reason=UNPROCESSABLE, outcome=outcome)
                await msg.ack_sync()
                return
        delay = min(self.retry.delay(grave.deliveries), PLUMBING_MAX_DELAY)
        with contextlib.suppress(Exception):
            await msg.nak(delay=delay)

    async def stop(self, grace: float) -> None:
        """Stop fetching, let in-flight commands finish within `grace`, hand back the rest."""
        self._stopping.set()
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        if self._inflight:
            _, pending = await asyncio.wait(set(self._inflight), timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=CANCEL_WAIT_SECONDS)
        # A pull subscription left open makes the connection's drain wait out its whole timeout.
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None
        self.bound = False

    @property
    def running(self) -> int:
        """Durable commands executing on this replica now (the fleet report's parked count)."""
        return len(self._inflight)


@dataclass(frozen=True)
class Settled:
    """How a handled message ends at the server: ack, term, or nak after `delay` seconds."""

    how: Literal["ack", "term", "nak"]
    delay: float = 0.0


@dataclass(frozen=True)
class DurableRetry:
    """When a retryable durable command is tried again, and when the bridge gives up on it."""

    deadline_seconds: float
    base_seconds: float
    max_seconds: float
    max_deliver: int

    def delay(self, attempt: int) -> float:
        return retry_delay(attempt, self.base_seconds, self.max_seconds)
