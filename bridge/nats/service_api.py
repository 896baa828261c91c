"""Request/reply as a NATS service (`nats.micro`): `nats micro ls` finds the bridge, `$SRV.STATS` counts.

The service `storybridge` has one endpoint per command, on `{p}.req.<resource>.<action>` in queue
group `storybridge`, so `$SRV.PING|INFO|STATS[.storybridge]` answer with every command subject and
its request count. These endpoints ARE the request/reply intake (not a second subscription beside
it, which would execute every request twice: queue groups do not span different subscriptions).

Two details the library leaves to us:
- nats-py runs a subscription's callbacks one at a time, so an endpoint handler only starts the
  execution as a task (bounded by `max_in_flight`); per-endpoint processing times in STATS are
  therefore the hand-off, not the API call. Durations live in `storybridge_command_duration_seconds`.
- A subject that names no command has no endpoint; a catch-all subscriber in its own queue group
  answers those `invalid_command` (and ignores every subject an endpoint serves).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.micro import add_service
from nats.micro.request import Request
from nats.micro.service import Service

from bridge import __version__
from bridge.commands import CommandExecutor, Execution
from bridge.names import QUEUE_GROUP, Subjects
from bridge.nats.outcomes import OutcomePublisher
from schemas.catalog import COMMAND_MODELS

log = structlog.get_logger(__name__)

SERVICE_NAME = "storybridge"
UNKNOWN_QUEUE_GROUP = "storybridge-unknown"


class RequestService:
    """The micro service and the catch-all for unknown subjects, on one connection."""

    def __init__(
        self,
        nc: NatsClient,
        executor: CommandExecutor,
        outcomes: OutcomePublisher,
        subjects: Subjects,
        *,
        max_in_flight: int,
        on_execution: Any = None,
    ) -> None:
        self.nc = nc
        self.executor = executor
        self.outcomes = outcomes
        self.subjects = subjects
        self.on_execution = on_execution
        self._slots = asyncio.Semaphore(max_in_flight)
        self._inflight: set[asyncio.Task[None]] = set()
        self.service: Service | None = None
        self._unknown: Any = None

    async def start(self) -> None:
        self.service = await add_service(
            self.nc,
            name=SERVICE_NAME,
            version=__version__,
            description="storybridge: NATS commands for the Sleeper Hit Studio Story API",
            queue_group=QUEUE_GROUP,
            metadata={"prefix": self.subjects.prefix},
        )
        for name in sorted(COMMAND_MODELS):
            await self.service.add_endpoint(
                name=name.replace(".", "-"),  # endpoint names are tokens; the subject keeps the dot
                subject=self.subjects.request(name),
                handler=self._on_request,
                metadata={"command": name},
            )
        self._unknown = await self.nc.subscribe(
            self.subjects.requests, queue=UNKNOWN_QUEUE_GROUP, cb=self._on_any
        )

    async def _on_request(self, request: Request) -> None:
        await self._slots.acquire()
        task = asyncio.create_task(
            self._serve(request.subject, request.data, request.headers, request.respond)
        )
        self._inflight.add(task)
        task.add_done_callback(self._done)

    async def _on_any(self, msg: Msg) -> None:
        if self.subjects.command_name(msg.subject) in COMMAND_MODELS or not msg.reply:
            return  # an endpoint answers it (or nobody asked for an answer)
        await self._slots.acquire()
        task = asyncio.create_task(self._serve(msg.subject, msg.data, msg.headers, msg.respond))
        self._inflight.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._slots.release()

    async def _serve(
        self,
        subject: str,
        data: bytes,
        headers: dict[str, str] | None,
        respond: Callable[[bytes], Awaitable[None]],
    ) -> None:
        execution: Execution = await self.executor.execute(
            self.subjects.command_name(subject),
            data,
            headers,
            fallback_id=str(uuid.uuid4()),
            subject=subject,
        )
        token = f"req-{uuid.uuid4()}"
        try:
            await self.outcomes.publish(execution.outcome, token=token, trace=execution.trace)
        except Exception as err:  # the requester gets its answer now, the event follows
            log.warning("outcome event deferred", error=repr(err))
            self.outcomes.publish_later(execution.outcome, token=token, trace=execution.trace)
        if self.on_execution is not None:
            self.on_execution(execution, "request")
        try:
            await respond(execution.outcome.to_json())
        except Exception as err:  # the requester left, or NATS is away: the outcome event stays
            log.warning("reply not sent", subject=subject, error=repr(err))

    async def stop(self, grace: float) -> None:
        """Stop taking requests, then let the ones in flight answer within `grace`."""
        if self.service is not None:
            await self.service.stop()
            self.service = None
        if self._unknown is not None:
            await self._unknown.unsubscribe()
            self._unknown = None
        if self._inflight:
            _, pending = await asyncio.wait(set(self._inflight), timeout=grace)
            for task in pending:
                task.cancel()
