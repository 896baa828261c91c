"""The durable intake's parts that hold no policy: a lane (one consumer and its slots), how a
message ends (`Settled`), the retry schedule (`DurableRetry`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Literal

import structlog
from nats.aio.msg import Msg
from nats.js.client import JetStreamContext

from bridge.config import retry_delay
from bridge.nats.deadletters import SEQUENCE_HEADER

log = structlog.get_logger(__name__)


@dataclass
class Lane:
    """One consumer and the slots of the work fetched from it."""

    name: str
    stream: str
    consumer: str
    parked: bool
    slots: asyncio.Semaphore
    inflight: set[asyncio.Task[None]] = field(default_factory=set)
    sub: JetStreamContext.PullSubscription | None = None
    task: asyncio.Task[None] | None = None
    bound: bool = False


def origin_seq(msg: Msg) -> int:
    try:
        return int((msg.headers or {}).get(SEQUENCE_HEADER) or 0)
    except ValueError:
        return 0


class WaveOrder:
    """The spread that makes held commands waking together come back oldest first, without wrapping.

    Commands held by one circuit or route wake at the same moment (just after its next probe); each
    adds a millisecond per place after the oldest command this replica holds for it (at most
    `cap` places), so JetStream redelivers a release in arrival order. A place counted modulo
    a constant would, once in `cap` releases, wake the newest half of a wave before the oldest.
    The oldest is forgotten once nothing was held for `forget_seconds` (a later hold is a new wave).
    """

    def __init__(self, cap: int = 500, forget_seconds: float = 30.0) -> None:
        self.cap = cap
        self.forget_seconds = forget_seconds
        self._oldest: dict[str, tuple[int, float]] = {}  # hold -> (oldest sequence, last held)

    def spread(self, hold: str, seq: int, now: float) -> float:
        oldest, last = self._oldest.get(hold, (seq, now))
        if now - last > self.forget_seconds:
            oldest = seq
        oldest = min(oldest, seq)
        self._oldest[hold] = (oldest, now)
        if len(self._oldest) > 4 * self.cap:  # holds of routes long healthy again
            cutoff = now - self.forget_seconds
            self._oldest = {k: v for k, v in self._oldest.items() if v[1] >= cutoff}
        return min(seq - oldest, self.cap) / 1000


async def hand_back_pending(lane: Lane) -> None:
    """Messages the server delivered for a fetch that was cut short wait in the subscription's
    queue (nats-py keeps them for the next fetch): nak them so nobody waits out the ack wait."""
    sub = lane.sub
    queue = getattr(getattr(sub, "_sub", None), "_pending_queue", None)
    if queue is None:
        return
    while not queue.empty():
        msg = queue.get_nowait()
        try:
            await msg.nak()
        except Exception:  # the server redelivers it after the ack wait anyway
            continue


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


ACK_ATTEMPTS = 4


async def finish(msg: Msg, settled: Settled) -> None:
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
