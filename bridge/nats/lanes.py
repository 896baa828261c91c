"""The durable intake's parts that hold no policy: a lane (one consumer and its slots), how a
message ends (`Settled`), the retry schedule (`DurableRetry`)."""

from __future__ import annotations

import asyncio
import bisect
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


@dataclass
class _Wave:
    seen: dict[int, float] = field(default_factory=dict)  # stream sequence -> last held
    order: list[int] = field(default_factory=list)  # the sequences of `seen`, sorted
    swept: float = 0.0


class WaveOrder:
    """The spread that makes held commands waking together come back oldest first.

    Commands held by one circuit or failing route wake at the same moment (just after its next
    probe); each adds a millisecond per command of the same hold that arrived before it (its rank
    among what this replica holds there now, at most `cap`), so JetStream redelivers a release in
    arrival order. A command not held again within `forget_seconds` has left the hold (it ran, or
    reached its deadline): held ones ask again at least every HOLD_MAX_SECONDS. Ranks, not
    distances in the stream, because the stream is shared: a place counted modulo a constant
    woke the newer part of one wave in 500 first, and a distance from the wave's first member
    grows past any cap once enough other commands have passed.
    """

    def __init__(self, cap: int = 500, forget_seconds: float = 10.0) -> None:
        self.cap = cap
        self.forget_seconds = forget_seconds
        self._waves: dict[str, _Wave] = {}

    def spread(self, hold: str, seq: int, now: float) -> float:
        wave = self._waves.get(hold)
        if wave is None:
            self._forget_idle(now)
            wave = self._waves[hold] = _Wave(swept=now)
        elif now - wave.swept >= 1.0:
            self._sweep(wave, now)
        if seq not in wave.seen:
            bisect.insort(wave.order, seq)
        wave.seen[seq] = now
        return min(bisect.bisect_left(wave.order, seq), self.cap) / 1000

    def _sweep(self, wave: _Wave, now: float) -> None:
        cutoff = now - self.forget_seconds
        wave.seen = {seq: at for seq, at in wave.seen.items() if at >= cutoff}
        wave.order = sorted(wave.seen)
        wave.swept = now

    def _forget_idle(self, now: float) -> None:
        """Holds nothing asked about for a while (routes long healthy again) are dropped."""
        cutoff = now - self.forget_seconds
        idle = [
            hold
            for hold, wave in self._waves.items()
            if not wave.seen or max(wave.seen.values()) < cutoff
        ]
        for hold in idle:
            del self._waves[hold]


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
