"""The two ways in: the durable JetStream consumer and core-NATS request/reply, one executor behind both.

The durable loop is hand-written on nats-py rather than faststream's concurrent pull subscriber, because
that one fetches ahead of its workers and lets fetched messages age past `ack_wait` (faststream #2563).
Here a fetch asks for exactly as many messages as there are free slots, so in-flight work is bounded
and nothing sits unacknowledged in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import structlog
from faststream.nats import NatsBroker
from faststream.nats.annotations import NatsMessage
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.client import JetStreamContext

from bridge.commands import INVALID_COMMAND, CommandExecutor, Execution
from bridge.nats.outcomes import OutcomePublisher
from bridge.nats.streams import COMMANDS_CONSUMER, COMMANDS_STREAM, QUEUE_GROUP, Subjects

log = structlog.get_logger("storybridge.intake")

# A failure of our own plumbing (e.g. NATS briefly unavailable while publishing the outcome) hands the
# command back with this delay; the API call it made replays under the same Idempotency-Key.
PLUMBING_RETRY_DELAY = 2.0


class DurableIntake:
    """Consumes `{p}.cmd.>` through the shared durable consumer, with explicit acks."""

    def __init__(
        self,
        js: JetStreamContext,
        executor: CommandExecutor,
        outcomes: OutcomePublisher,
        subjects: Subjects,
        *,
        max_in_flight: int,
        ack_wait: float,
        on_execution: Any = None,
    ) -> None:
        self.js = js
        self.executor = executor
        self.outcomes = outcomes
        self.subjects = subjects
        self.max_in_flight = max_in_flight
        self.heartbeat_every = max(ack_wait / 3, 0.5)
        self.on_execution = on_execution
        self._slots = asyncio.Semaphore(max_in_flight)
        self._inflight: set[asyncio.Task[None]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._sub: JetStreamContext.PullSubscription | None = None
        self.bound = False

    async def start(self) -> None:
        self._loop_task = asyncio.create_task(self._fetch_loop(), name="storybridge-intake")

    async def _bind(self) -> JetStreamContext.PullSubscription:
        sub = await self.js.pull_subscribe_bind(durable=COMMANDS_CONSUMER, stream=COMMANDS_STREAM)
        self._sub = sub
        self.bound = True
        return sub

    async def _fetch_loop(self) -> None:
        sub: JetStreamContext.PullSubscription | None = None
        while not self._stopping.is_set():
            try:
                if sub is None:
                    sub = await self._bind()
                await self._slots.acquire()
                free = 1
                # Take every other free slot too, without waiting for them.
                while free < self.max_in_flight and not self._slots.locked():
                    await self._slots.acquire()
                    free += 1
                try:
                    msgs = await sub.fetch(batch=free, timeout=1.0)
                except (TimeoutError, NatsTimeoutError):
                    msgs = []
                for _ in range(free - len(msgs)):
                    self._slots.release()
                for msg in msgs:
                    task = asyncio.create_task(self._handle(msg))
                    self._inflight.add(task)
                    task.add_done_callback(self._done)
            except asyncio.CancelledError:
                raise
            except Exception as err:
                # Pull subscriptions are not always restored after a server restart (nats.py #504): re-bind.
                log.warning("intake fetch failed; re-binding", error=repr(err))
                self.bound = False
                if sub is not None:
                    with contextlib.suppress(Exception):
                        await sub.unsubscribe()
                sub = None
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), 1.0)

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
        try:
            meta = msg.metadata
            token = f"js-{meta.sequence.stream}-{meta.num_delivered}"
            execution = await self.executor.execute(
                self.subjects.command_name(msg.subject),
                msg.data,
                msg.headers,
                # Stable across redeliveries, so a command without commandId still replays.
                fallback_id=f"{COMMANDS_STREAM}-{meta.sequence.stream}",
                subject=msg.subject,
            )
            await self.outcomes.publish(execution.outcome, token=token, trace=execution.trace)
            if self.on_execution is not None:
                self.on_execution(execution, "durable")
            error = execution.outcome.error
            if error is not None and error.code == INVALID_COMMAND:
                await msg.term()  # never redeliver what can never succeed
            else:
                await msg.ack_sync()
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await msg.nak()  # hand it back: another replica (or we, later) replays it
            raise
        except Exception as err:
            log.warning("command handed back after a plumbing failure", error=repr(err))
            with contextlib.suppress(Exception):
                await msg.nak(delay=PLUMBING_RETRY_DELAY)
        finally:
            beat.cancel()

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
                await asyncio.wait(pending, timeout=5)
        # A pull subscription left open makes the connection's drain wait out its whole timeout.
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None
        self.bound = False


def register_requests(
    broker: NatsBroker,
    executor: CommandExecutor,
    outcomes: OutcomePublisher,
    subjects: Subjects,
    *,
    max_workers: int,
    on_execution: Any = None,
) -> None:
    """Request/reply on `{p}.req.>` in queue group `storybridge`; the reply is the outcome document."""

    @broker.subscriber(
        subjects.requests,
        queue=QUEUE_GROUP,
        max_workers=max_workers,
        title="storybridge commands (request/reply)",
        description="Core-NATS request to {p}.req.<resource>.<action>; the reply is the outcome document.",
    )
    async def on_request(message: NatsMessage) -> bytes:
        # Only the raw message: parsing, size and validation errors belong to the executor.
        raw: Msg = message.raw_message
        execution: Execution = await executor.execute(
            subjects.command_name(raw.subject),
            raw.data,
            raw.headers,
            fallback_id=str(uuid.uuid4()),
            subject=raw.subject,
        )
        try:
            await outcomes.publish(
                execution.outcome, token=f"req-{uuid.uuid4()}", trace=execution.trace
            )
        except Exception as err:  # the requester still gets its answer
            log.warning("outcome event not published", error=repr(err))
        if on_execution is not None:
            on_execution(execution, "request")
        return execution.outcome.to_json()
