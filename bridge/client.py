"""A small client library for services that use storybridge: typed commands out, typed events in.

```python
from bridge.client import Storybridge
from schemas.story.commands import ProjectCreateCommand

sb = Storybridge(nc)                                   # a connected nats-py client
outcome = await sb.request(ProjectCreateCommand(name="Q3"))   # request/reply -> Outcome
command_id = await sb.send(ProjectCreateCommand(name="Q3", commandId="q3-1"))  # durable

async def on_event(event: Event) -> None: ...          # your handler
await sb.events("my-service").run(on_event, stop=stop_event)
```

`events(durable)` is a durable JetStream consumer on `STORYBRIDGE_EVENTS`: it survives the service's
restarts, hands every event to the handler, records the CloudEvent id in the service's own KV
bucket (`STORYBRIDGE_SEEN_<durable>`) after the handler returns, and only then acks. An event whose
id was already handled (a re-publish, a redelivery after a crash between record and ack) is acked
without calling the handler again; a handler that raises gets the event again a little later.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, KeyValueConfig, StorageType
from nats.js.errors import BucketNotFoundError, KeyNotFoundError
from nats.js.errors import NotFoundError as JsNotFoundError
from nats.js.kv import KeyValue

from bridge.names import EVENTS_STREAM, Subjects
from bridge.nats.streams import EVENTS_MAX_AGE_SECONDS
from schemas.wire.commands import Command
from schemas.wire.events import CloudEvent, ResourceEventData
from schemas.wire.outcome import Outcome

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Event:
    """One CloudEvent from the bridge, with `data` parsed: an `Outcome` for command events, a
    `ResourceEventData` for status changes, else the JSON as it came."""

    subject: str
    cloudevent: CloudEvent
    data: Outcome | ResourceEventData | Any

    @property
    def id(self) -> str:
        return self.cloudevent.id


def parse_event(subject: str, body: bytes) -> Event:
    cloudevent = CloudEvent.model_validate_json(body)
    raw = cloudevent.data
    data: Any = raw
    if isinstance(raw, dict):
        if ".evt.command." in subject:
            data = Outcome.model_validate(raw)
        elif {"resource", "id", "status", "snapshot"} <= raw.keys():
            data = ResourceEventData.model_validate(raw)
    return Event(subject=subject, cloudevent=cloudevent, data=data)


EventHandler = Callable[[Event], Awaitable[None]]


class EventConsumer:
    """A durable, deduplicating consumer of the bridge's events (see the module docstring)."""

    def __init__(
        self, nc: NatsClient, subjects: Subjects, durable: str, *, filter_subject: str | None
    ) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", durable):
            raise ValueError("durable: 1..64 of [A-Za-z0-9_-]")
        self.nc = nc
        self.durable = durable
        self.filter_subject = filter_subject or subjects.events
        self.bucket = f"STORYBRIDGE_SEEN_{durable}"
        self.handled = 0
        self.skipped = 0

    async def _seen(self) -> KeyValue:
        js = self.nc.jetstream()
        try:
            return await js.key_value(self.bucket)
        except (BucketNotFoundError, JsNotFoundError):
            return await js.create_key_value(
                KeyValueConfig(
                    bucket=self.bucket,
                    description=f"event ids handled by {self.durable}",
                    history=1,
                    ttl=EVENTS_MAX_AGE_SECONDS,  # as long as the stream keeps the events
                    storage=StorageType.FILE,
                )
            )

    async def run(
        self,
        handler: EventHandler,
        *,
        stop: asyncio.Event | None = None,
        batch: int = 16,
        retry_delay: float = 5.0,
    ) -> None:
        """Hand every event to `handler` once, until `stop` is set. A handler that raises has its
        event offered again after `retry_delay` seconds (not recorded, not acked)."""
        stop = stop or asyncio.Event()
        js = self.nc.jetstream()
        seen = await self._seen()
        sub = await js.pull_subscribe(
            self.filter_subject,
            durable=self.durable,
            stream=EVENTS_STREAM,
            config=ConsumerConfig(
                durable_name=self.durable,
                deliver_policy=DeliverPolicy.ALL,
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=30,
                max_ack_pending=batch * 4,
            ),
        )
        try:
            while not stop.is_set():
                try:
                    msgs = await sub.fetch(batch=batch, timeout=0.5)
                except (TimeoutError, NatsTimeoutError):
                    continue
                for msg in msgs:
                    if stop.is_set():
                        break  # unacked: redelivered to the next run
                    try:
                        await self._one(msg, handler, seen)
                    except Exception as err:  # the handler's failure: offer the event again later
                        log.warning("event handler failed", subject=msg.subject, error=repr(err))
                        with contextlib.suppress(Exception):
                            await msg.nak(delay=retry_delay)
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _one(self, msg: Msg, handler: EventHandler, seen: KeyValue) -> None:
        event = parse_event(msg.subject, msg.data)
        key = event.id.replace(":", "_")  # KV keys: [-/_=.a-zA-Z0-9]
        try:
            await seen.get(key)
        except KeyNotFoundError:
            await handler(event)
            await seen.put(key, b"1")
            self.handled += 1
        else:
            self.skipped += 1
        await msg.ack_sync()


class Storybridge:
    """Commands out (the schemas' models), events in, for one subject prefix."""

    def __init__(self, nc: NatsClient, *, prefix: str = "story") -> None:
        self.nc = nc
        self.subjects = Subjects(prefix)

    @staticmethod
    def _payload(command: Command) -> dict[str, Any]:
        return command.model_dump(mode="json", exclude_unset=True)

    async def request(self, command: Command, *, timeout: float = 60.0) -> Outcome:
        """Request/reply: the outcome document, typed."""
        reply = await self.nc.request(
            self.subjects.request(command.command),
            json.dumps(self._payload(command)).encode(),
            timeout=timeout,
        )
        return Outcome.model_validate_json(reply.data)

    async def send(self, command: Command) -> str:
        """Durable: into `STORYBRIDGE_COMMANDS`, acked by the stream; returns the commandId (the
        command's own, else a new one), which the outcome event carries."""
        payload = self._payload(command)
        command_id = str(payload.setdefault("commandId", f"sb-{uuid.uuid4()}"))
        await self.nc.jetstream().publish(
            self.subjects.command(command.command),
            json.dumps(payload).encode(),
            headers={"Nats-Msg-Id": command_id},
        )
        return command_id

    def events(self, durable: str, *, subject: str | None = None) -> EventConsumer:
        """A durable consumer named `durable` (one per service) of `subject` (default every event)."""
        return EventConsumer(self.nc, self.subjects, durable, filter_subject=subject)
