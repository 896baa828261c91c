"""Hand-over runs (`storybridge bench --handover`): work that was running before the bridge saw it.

The poller benchmark (`bridge.cli.bench.poll`) watches every job from its creation. A team's first
move with a new bridge is different: hand it the work already in flight. Here every job exists,
in flight, before the bridge starts; then, on the measured clock and budget, the bridge is handed
them in one of two ways:

* `bulk`: one `watch.add` with `ids` per project (the contract's bulk form);
* `discovery`: discovery finds them (`STORYBRIDGE_DISCOVERY_INTERVAL_SECONDS` = 60 API seconds,
  paced at `STORYBRIDGE_DISCOVERY_BUDGET_SHARE` of the poll budget).

Reported, in API seconds: how long onboarding took and what it cost (requests per watch), then,
with the READY moments spread over `window` after onboarding, detection p50/p95/max against the
bound (`PollParams.bound`, with discovery's share taken off the polls while it sweeps), and the
longest stretch without any API request while changes were still undetected.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client as NATS

from bridge.cli.bench.common import SandboxTimeBudget, approved_plans, sleep_until
from bridge.cli.bench.poll import (
    Detector,
    PollParams,
    PollResult,
    StaggeredJobs,
    bench_settings,
    poll_sandbox,
    use_budget,
)
from bridge.names import Subjects
from bridge.nats.embedded import EmbeddedNats
from bridge.providers.story.watch.discovery import DiscoveryPace
from bridge.runtime import Bridge
from bridge.sandboxes.kit.clock import SandboxClock

DISCOVERY_INTERVAL = 60.0  # API seconds
DISCOVERY_SHARE = 0.2  # STORYBRIDGE_DISCOVERY_BUDGET_SHARE's default
MODES = ("bulk", "discovery")


@dataclass
class HandoverResult:
    mode: str
    onboarded: int
    onboarding_seconds: float  # API seconds from the start to every job watched
    onboarding_calls: int
    poll: PollResult
    longest_idle: float  # API seconds without a request while a READY was still undetected

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "onboarded": self.onboarded,
            "onboarding_seconds": self.onboarding_seconds,
            "onboarding_calls": self.onboarding_calls,
            "calls_per_watch": (
                self.onboarding_calls / self.onboarded if self.onboarded else math.nan
            ),
            "longest_idle_seconds": self.longest_idle,
            **self.poll.as_dict(),
        }


def handover_params(params: PollParams, mode: str) -> PollParams:
    """The READY moments start after onboarding can be done: a discovery sweep at its share of the
    poll budget (1 + 3 calls a project) takes longer than a bulk hand-over."""
    if mode != "discovery":
        return params
    per_second = params.rate / 60.0 * params.share * DISCOVERY_SHARE
    sweep = (1 + 3 * params.projects) / per_second
    return dataclasses.replace(params, lead=max(params.lead, sweep + 30.0))


def handover_bound(params: PollParams, mode: str) -> dict[str, float]:
    """`PollParams.bound`, with discovery's calls (a sweep that cannot fit its interval goes on
    at its whole share) taken off what polls may spend."""
    bound = params.bound("bridge")
    if mode == "discovery":
        per_second = bound["poll_budget_per_second"] * (1.0 - DISCOVERY_SHARE)
        period = max(params.naive_interval, bound["sweep_calls"] / per_second)
        bound.update(poll_budget_per_second=per_second, period=period)
        bound.update(p50=period / 2, p95=0.95 * period)
    return bound


async def measure_handover(params: PollParams, workdir: Path, mode: str) -> HandoverResult:
    params = handover_params(params, mode)
    sandbox = poll_sandbox(params.speed)
    await asyncio.to_thread(sandbox.start)
    embedded = await asyncio.to_thread(EmbeddedNats(workdir / f"nats-{mode}").start)
    bridge: Bridge | None = None
    nc: NATS | None = None
    try:
        clock = sandbox.state.clock
        plans = await approved_plans(sandbox.base_url, clock, params.projects)
        t0 = clock.freeze()
        jobs = StaggeredJobs(sandbox, plans, params, t0)
        created = [jobs.create(index) for index in range(params.jobs)]
        settings = bench_settings(
            params, embedded.url, sandbox.base_url, workdir / f"bridge-{mode}"
        )
        bridge = Bridge(settings)
        await bridge.start()
        assert bridge.client("story") is not None and bridge.engine is not None
        use_budget(bridge.client("story"), SandboxTimeBudget(params.rate, clock))
        story = bridge.engine.providers["story"]
        story.discovery_pace = DiscoveryPace(  # type: ignore[attr-defined]
            params.rate / 60.0 * params.share * DISCOVERY_SHARE,
            clock=clock.now,
            sleep=lambda seconds: asyncio.sleep(seconds / clock.speed),
        )
        nc = await nats.connect(embedded.url)
        detector = Detector(clock, params.jobs)
        subjects = Subjects(settings.subject_prefix)
        await nc.subscribe(subjects.event("job.ready"), cb=detector.on_event)
        await nc.flush()
        sandbox.state.log.clear()
        clock.resume()
        if mode == "bulk":
            await _bulk(nc, subjects, created)
        else:
            await _discovered(bridge, clock, params)
        onboarded_at = clock.now()
        onboarding_calls = len(sandbox.state.log.entries())
        onboarded = await _watched_jobs(bridge)
        await detector.wait(t0 + params.deadline())
        result = detector.result(f"handover-{mode}", sandbox, t0, 0)
        result.bound = handover_bound(params, mode)
        return HandoverResult(
            mode,
            onboarded,
            onboarded_at - t0,
            onboarding_calls,
            result,
            _longest_idle(sandbox, detector, onboarded_at),
        )
    finally:
        if nc is not None:
            await nc.close()
        if bridge is not None:
            await bridge.stop()
        await asyncio.to_thread(embedded.stop)
        await asyncio.to_thread(sandbox.stop)


async def _bulk(nc: NATS, subjects: Subjects, created: list[tuple[str, str]]) -> None:
    by_project: dict[str, list[str]] = {}
    for job_id, project_id in created:
        by_project.setdefault(project_id, []).append(job_id)

    async def hand_over(project_id: str, ids: list[str]) -> None:
        for start in range(0, len(ids), 1000):
            body = {"resource": "job", "projectId": project_id, "ids": ids[start : start + 1000]}
            reply = await nc.request(subjects.request("watch.add"), json.dumps(body).encode(), 120)
            outcome = json.loads(reply.data)
            if not outcome.get("ok") or outcome["result"]["notFound"]:
                raise RuntimeError(f"bulk watch.add failed: {outcome}")

    await asyncio.gather(*(hand_over(p, ids) for p, ids in by_project.items()))


async def _discovered(bridge: Bridge, clock: SandboxClock, params: PollParams) -> None:
    """Turn discovery on (its first sweep at once) and wait until it watches every job."""
    assert bridge.engine is not None
    engine = bridge.engine
    engine.settings.discovery_interval = DISCOVERY_INTERVAL / clock.speed
    engine._tasks.append(asyncio.create_task(engine._discovery_loop(), name="bench-discovery"))
    limit = clock.now() + params.lead + params.window
    while await _watched_jobs(bridge) < params.jobs and clock.now() < limit:
        await sleep_until(clock, clock.now() + 0.5)


async def _watched_jobs(bridge: Bridge) -> int:
    assert bridge.engine is not None
    count = 0
    cursor: str | None = None
    while True:
        page, cursor = await bridge.engine.list_watches(resource="job", limit=1000, cursor=cursor)
        count += len(page)
        if not cursor:
            return count


def _longest_idle(sandbox: Any, detector: Detector, since: float) -> float:
    """The longest gap between API requests, after onboarding, from the first READY moment to
    the last detection: while changes were waiting to be seen."""
    if not detector.seen:
        return math.nan
    start = max(since, min(ready for _, ready in detector.seen.values()))
    end = max(seen for seen, _ in detector.seen.values())
    times = sorted(
        e.sandboxTime for e in sandbox.state.log.entries() if start <= e.sandboxTime <= end
    )
    edges = [start, *times, end]
    return max((b - a for a, b in itertools.pairwise(edges)), default=0.0)


async def run_handover(params: PollParams, workdir: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for mode in MODES:
        result = await measure_handover(params, workdir, mode)
        out[mode] = result.as_dict()
    return out


def print_handover(console: Any, params: PollParams, figures: dict[str, Any]) -> None:
    from rich.table import Table

    table = Table(title=f"Hand-over: {params.jobs} jobs in flight, {params.rate}/min")
    for column in (
        "onboarding",
        "watched",
        "seconds",
        "calls/watch",
        "detected",
        "p50 s",
        "p95 s",
        "max s",
        "bound p95 s",
        "p95/bound",
        "longest idle s",
    ):
        table.add_column(column, justify="right")
    for mode, f in figures.items():
        latency = f["latency_seconds"]
        bound = f["bound_seconds"]["p95"]
        table.add_row(
            mode,
            str(f["onboarded"]),
            f"{f['onboarding_seconds']:.1f}",
            f"{f['calls_per_watch']:.3f}",
            f"{f['detected']}/{f['jobs']}",
            f"{latency['p50']:.1f}",
            f"{latency['p95']:.1f}",
            f"{latency['max']:.1f}",
            f"{bound:.1f}",
            f"{latency['p95'] / bound:.2f}" if bound else "-",
            f"{f['longest_idle_seconds']:.1f}",
        )
    console.print(table)
