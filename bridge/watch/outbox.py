"""Publishing staged events to JetStream exactly once.

Within the stream's duplicate window the `Nats-Msg-Id` header (= the event id) makes a re-publish
harmless. Beyond it (the bridge was down longer than the window) dedup no longer protects us, so an
event staged longer ago than `window - margin` is first looked up in the stream and skipped when it
is already there.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime

import structlog
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from nats.js.errors import FetchTimeoutError

from bridge.nats.streams import EVENTS_STREAM
from bridge.watch.events import CONTENT_TYPE
from bridge.watch.model import PendingEvent

log = structlog.get_logger(__name__)

SCAN_SLACK_SECONDS = 5.0


class PublishFailed(Exception):
    """JetStream did not acknowledge an event into the events stream; it stays in the outbox."""


class Outbox:
    """Publishes pending events in order, checking every ack."""

    def __init__(
        self,
        js: JetStreamContext,
        *,
        duplicate_window: float,
        margin: float,
        stream: str = EVENTS_STREAM,
        timeout: float = 5.0,
    ) -> None:
        self.js = js
        self.stream = stream
        self.duplicate_window = duplicate_window
        self.margin = margin
        self.timeout = timeout

    async def publish_all(self, events: Iterable[PendingEvent], *, now: float) -> int:
        """Publish in order; returns how many were sent. PublishFailed leaves the rest staged."""
        sent = 0
        for event in events:
            if now - event.staged_at > self.duplicate_window - self.margin and await self.in_stream(
                event
            ):
                log.info("outbox event already in stream, skipped", event_id=event.id)
                continue
            await self.publish(event)
            sent += 1
        return sent

    async def publish(self, event: PendingEvent) -> None:
        body = json.dumps(event.payload, separators=(",", ":")).encode()
        try:
            ack = await self.js.publish(
                event.subject,
                body,
                timeout=self.timeout,
                stream=self.stream,
                # The trace headers first: they can never override the dedup id.
                headers={
                    **(event.trace or {}),
                    "Nats-Msg-Id": event.id,
                    "Content-Type": CONTENT_TYPE,
                },
            )
        except Exception as err:  # any failure leaves the event staged for the next attempt
            raise PublishFailed(f"{event.subject}: {type(err).__name__}: {err}") from err
        if ack.stream != self.stream:
            raise PublishFailed(f"{event.subject} acked by stream {ack.stream!r}")

    async def in_stream(self, event: PendingEvent) -> bool:
        """Scan the event's subject from shortly before it was staged for a message with its id."""
        start = datetime.fromtimestamp(event.staged_at - SCAN_SLACK_SECONDS, UTC)
        sub = await self.js.pull_subscribe(
            event.subject,
            stream=self.stream,
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_TIME,
                opt_start_time=start,
                ack_policy=AckPolicy.NONE,
                inactive_threshold=30.0,
                headers_only=False,
            ),
        )
        try:
            info = await sub.consumer_info()
            remaining = info.num_pending or 0
            while remaining > 0:
                try:
                    msgs = await sub.fetch(min(remaining, 256), timeout=self.timeout)
                except (FetchTimeoutError, TimeoutError):
                    break
                for msg in msgs:
                    remaining -= 1
                    if _carries_id(msg.headers, msg.data, event.id):
                        return True
            return False
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()


def _carries_id(headers: dict[str, str] | None, data: bytes, event_id: str) -> bool:
    if headers and headers.get("Nats-Msg-Id") == event_id:
        return True
    try:
        return bool(json.loads(data).get("id") == event_id)
    except (ValueError, AttributeError):
        return False
