"""What every store is handed: the lock, the clock, the lazy scheduler, ids and creation order.

State machines are lazy: a transition is a callback due at a sandbox time (the kit's
`Scheduler`). Every public store operation runs inside `Kernel.moment()`: it takes the world lock
and first runs the callbacks that have come due, in due order, each exactly once; so a list read
and a get read always agree and side effects (credit settlement) happen once. A callback is passed
its due time, which it uses for timestamps, so runs repeat for a given seed and clock. One lock
for the whole world: an operation may span stores (a job reserves credits and makes artifacts)
and must be seen whole.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from bridge.sandboxes.kit.clock import SandboxClock
from bridge.sandboxes.kit.scheduler import Scheduler
from bridge.sandboxes.story.config import StorySandboxConfig

EPOCH = datetime(2026, 5, 29, 10, 0, 0, tzinfo=UTC)


def iso(seconds: float) -> str:
    """Sandbox seconds as the API's ISO 8601 timestamp, e.g. 2026-05-29T10:00:04.000Z."""
    moment = EPOCH + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def stamp(body: dict[str, Any], at: float) -> None:
    body["updatedAt"] = iso(at)


T = TypeVar("T")


def view(body: T) -> T:
    """A copy for the wire: callers never hold a reference into the world."""
    return copy.deepcopy(body)


class StoryIds:
    """Ids like `cmj_3f9a...`: unique per world, repeatable for a given seed."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._counter = itertools.count(1)

    def next(self, prefix: str) -> str:
        n = next(self._counter)
        digest = hashlib.sha256(f"{self.seed}:{prefix}:{n}".encode()).hexdigest()
        return f"{prefix}_{digest[:20]}"


class Moment:
    """The world lock held, then every due transition applied; `as` gives the sandbox time.

    One per kernel, stateless beyond it, so nesting (the lock is reentrant) is safe; a class
    rather than a generator context manager, which costs more on every store call."""

    def __init__(self, kernel: Kernel) -> None:
        self._kernel = kernel

    def __enter__(self) -> float:
        self._kernel.lock.acquire()
        try:
            return self._kernel.sync()
        except BaseException:
            self._kernel.lock.release()
            raise

    def __exit__(self, *exc: object) -> None:
        self._kernel.lock.release()


class Kernel:
    """The shared services of one world; stores read `config` and `durations` at call time, so
    the control API (recording) and the bench (job_start) can change them on a live world."""

    def __init__(self, config: StorySandboxConfig, clock: SandboxClock) -> None:
        self.config = config
        self.clock = clock
        self.durations = config.durations
        self.ids = StoryIds(config.seed)
        self.scheduler = Scheduler()
        self.lock = threading.RLock()
        self._seq = itertools.count(1)
        self._moment = Moment(self)

    def next_seq(self) -> int:
        """Creation order across every store: index lists appended at creation stay sorted."""
        return next(self._seq)

    def sync(self) -> float:
        """Apply every transition due by now."""
        now = self.clock.now()
        self.scheduler.run_until(now)
        return now

    def moment(self) -> Moment:
        """`with kernel.moment() as now:` the frame of every public store operation."""
        return self._moment

    def at(self, due: float, action: Callable[[float], None]) -> None:
        self.scheduler.at(due, action)
