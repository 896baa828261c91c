"""Shared pieces of `storybridge bench`: time compression, percentiles, setup, machine facts.

Time compression. The poller benchmark runs the sandbox `speed` times faster than the wall clock
so minutes of API time pass in seconds. Everything the pollers are judged by must run on that same
clock, or the comparison is meaningless: poll intervals are scaled (`poll_interval_scale`), and the
request budget is a `SandboxTimeBudget`: the very same rolling-window `RateBudget`, whose "minute"
is a sandbox minute. (A plain `RateBudget(per_minute=rate * speed)` would hand out a whole wall
minute of grants at once: a run shorter than a minute would never be paced at all.) Every figure
the bench reports about pollers is therefore in API (sandbox) seconds.
"""

from __future__ import annotations

import asyncio
import math
import os
import platform
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bridge.http.keys import ApiKey
from bridge.http.ratelimit import RateBudget
from bridge.providers.story.client import StoryClient, story_transport
from bridge.sandboxes.kit.clock import SandboxClock
from bridge.sandboxes.story.world.kernel import EPOCH
from handlers.story.plugin import sandbox_key
from schemas.story.requests import PlanCreate, ProjectCreate

# A budget nobody reaches: setup traffic and the command benchmark must never wait for a slot.
UNLIMITED_PER_MINUTE = 10_000_000
PLAN_BODY: dict[str, Any] = {
    "target": {"audience": "buyers", "objective": "explain the launch", "outcome": "book a demo"},
    "artifactRequests": [{"type": "table_read"}],
}


class SandboxTimeBudget(RateBudget):
    """`RateBudget` on the sandbox clock: `per_minute` grants per rolling *sandbox* minute.

    The budget's own logic (window, poll reserve, priorities, queueing) is untouched; only its
    clock is the sandbox's, and the one place it sleeps converts sandbox seconds back to wall time.
    """

    def __init__(self, per_minute: int, clock: SandboxClock) -> None:
        super().__init__(per_minute, clock=clock.now)
        self.speed = clock.speed

    async def _wait_change(self, delay: float | None) -> None:
        await super()._wait_change(None if delay is None else delay / self.speed)


@dataclass(frozen=True)
class Stats:
    """Nearest-rank percentiles of one sample (seconds, or whatever unit went in)."""

    count: int
    p50: float
    p95: float
    p99: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Stats:
        ordered = sorted(values)
        if not ordered:
            nan = math.nan
            return cls(0, nan, nan, nan, nan)
        return cls(
            len(ordered),
            percentile(ordered, 50),
            percentile(ordered, 95),
            percentile(ordered, 99),
            ordered[-1],
        )

    def as_dict(self) -> dict[str, float]:
        return {
            "count": self.count,
            "p50": self.p50,
            "p95": self.p95,
            "p99": self.p99,
            "max": self.max,
        }


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted, non-empty sample."""
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return float(ordered[min(rank, len(ordered)) - 1])


def ratio(a: float, b: float) -> float:
    """a / b, NaN when either side is missing or b is zero (never an exception in a report)."""
    if not (math.isfinite(a) and math.isfinite(b)) or b == 0:
        return math.nan
    return a / b


def api_seconds(timestamp: str) -> float:
    """An API timestamp (`2026-05-29T10:00:04.000Z`) as sandbox seconds since the sandbox EPOCH."""
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return (moment - EPOCH).total_seconds()


async def sleep_until(clock: SandboxClock, moment: float) -> None:
    """Sleep until the sandbox clock reads `moment`."""
    delay = (moment - clock.now()) / clock.speed
    if delay > 0:
        await asyncio.sleep(delay)


def machine_facts() -> dict[str, Any]:
    """What a reader needs to compare runs across machines."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cores": os.cpu_count() or 0,
        "cpu": cpu,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(terse=True),
    }


def setup_client(base_url: str) -> StoryClient:
    """A client with its own key and an unlimited budget, for setup that must cost the bench nothing."""
    return StoryClient(
        story_transport(
            base_url,
            ApiKey.parse(sandbox_key()),
            budget=RateBudget(per_minute=UNLIMITED_PER_MINUTE),
        )
    )


async def approved_plans(
    base_url: str, clock: SandboxClock, projects: int
) -> list[tuple[str, str]]:
    """`projects` projects, each with one APPROVED table-read plan: [(project id, plan id)]."""
    async with setup_client(base_url) as api:
        pairs: list[tuple[str, str]] = []
        for index in range(projects):
            project = await api.create_project(
                ProjectCreate(name=f"bench {index}"), idempotency_key=str(uuid.uuid4())
            )
            plan = await api.create_plan(
                project.data.id,
                PlanCreate.model_validate(PLAN_BODY),
                idempotency_key=str(uuid.uuid4()),
            )
            pairs.append((project.data.id, plan.data.id))
        for _, plan_id in pairs:
            while True:
                status = str((await api.get_plan(plan_id)).data.status)
                if status.upper().endswith("REQUIRES_APPROVAL"):
                    break
                await asyncio.sleep(1.0 / clock.speed)
            await api.approve_plan(plan_id, idempotency_key=str(uuid.uuid4()))
        return pairs
