"""Publishing staged events to JetStream exactly once.

A fresh event (staged by this process a moment ago, never sent) is simply published with
`Nats-Msg-Id` = its id. Any other staged event may already be in the stream (a crash between
publish and clearing the outbox, a lost ack), possibly longer ago than the duplicate window, so
before it is sent again the stream is asked exactly: every message on the event's subject after
`after_seq` (a sequence acknowledged before the event was staged, so an earlier publish of it sits
later) is looked up by sequence until the end of the stream. Found: skipped. Provably absent:
published. Anything else (timeouts, a stream that does not answer): `PublishUncertain`, and the
event stays staged to be asked again later: the outbox fails closed, never open.

Errors:

    OutboxError           base; the event stays staged, the caller retries later
    ├── PublishFailed     JetStream did not acknowledge the publish
    └── PublishUncertain  whether an earlier attempt reached the stream could not be established
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

import structlog
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from bridge.names import EVENTS_STREAM
from bridge.watch.events import CONTENT_TYPE
from bridge.watch.model import PendingEvent

log = structlog.get_logger(__name__)

# Sequence lookups one check may make; a longer backlog on a subject resumes where it stopped.
LOOKUPS_PER_CHECK = 2000
NO_MESSAGE_FOUND = 10037  # JetStream's error code for "no message at or after this sequence"


class OutboxError(Exception):
    """A staged event could not be settled now; it stays staged."""


class PublishFailed(OutboxError):
    """JetStream did not acknowledge an event into the events stream."""


class PublishUncertain(OutboxError):
    """Whether the event is already in the stream could not be told: do not publish it yet."""


@dataclass
class Outbox:
    """Publishes pending events in order, checking every ack; remembers the last sequence seen."""

    js: JetStreamContext
    stream: str = EVENTS_STREAM
    timeout: float = 5.0
    last_seq: int = 0  # highest stream sequence known to this process (acks, stream info)
    _resume: dict[str, int] = field(default_factory=dict)  # event id -> next sequence to look at

    async def learn_last_seq(self) -> None:
        """Best effort at start: the stream's last sequence, the floor for events staged next."""
        info = await self.js.stream_info(self.stream)
        self.last_seq = max(self.last_seq, int(info.state.last_seq or 0))

    def forget(self, event_ids: Iterable[str]) -> None:
        """Drop the lookup positions of events that will not be settled here (their record was
        deleted, or flushed by another replica): they would stay forever otherwise."""
        for event_id in event_ids:
            self._resume.pop(event_id, None)

    async def settle(self, event: PendingEvent, *, fresh: bool) -> int:
        """Make sure `event` is in the stream once; returns its stream sequence."""
        if not fresh:
            found = await self.find(event)
            if found is not None:
                log.info("outbox event already in stream, not sent again", event_id=event.id)
                return found
        return await self.publish(event)

    async def publish(self, event: PendingEvent) -> int:
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
        self.last_seq = max(self.last_seq, int(ack.seq))
        self._resume.pop(event.id, None)
        return int(ack.seq)

    async def find(self, event: PendingEvent) -> int | None:
        """The sequence of `event` in the stream, or None when it is provably not there."""
        seq = self._resume.get(event.id, event.after_seq + 1)
        for _ in range(LOOKUPS_PER_CHECK):
            try:
                msg = await self.js.get_msg(self.stream, seq=seq, subject=event.subject, next=True)
            except NotFoundError as err:
                if getattr(err, "err_code", None) != NO_MESSAGE_FOUND:
                    self._resume[event.id] = seq
                    raise PublishUncertain(f"{event.id}: {err}") from err  # e.g. no such stream
                self._resume.pop(event.id, None)
                return None  # no message on that subject at or after `seq`: never published
            except Exception as err:
                self._resume[event.id] = seq
                raise PublishUncertain(f"{event.id}: {type(err).__name__}: {err}") from err
            if _carries_id(msg.headers, msg.data, event.id):
                self._resume.pop(event.id, None)
                return int(msg.seq or seq)
            seq = int(msg.seq or seq) + 1
        self._resume[event.id] = seq
        raise PublishUncertain(f"{event.id}: lookup continues from sequence {seq}")


def _carries_id(headers: dict[str, str] | None, data: bytes | None, event_id: str) -> bool:
    if headers and headers.get("Nats-Msg-Id") == event_id:
        return True
    try:
        return bool(json.loads(data or b"{}").get("id") == event_id)
    except (ValueError, AttributeError, RecursionError):
        return False
