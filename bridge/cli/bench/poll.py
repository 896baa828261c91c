"""Poller efficiency: the bridge's watch engine beside a naive one-GET-per-job poller, same budget.

Both run against a fresh, fault-free sandbox with an identical workload:

* `projects` projects with one approved plan each; setup goes through its own key and an
  unlimited budget (before the measurement starts, and the request log is cleared after it);
* `jobs` jobs created directly in the sandbox world, round-robin over the projects, each given its
  own start delay so the READY moments are spread evenly over `window` API seconds, the first
  `lead` API seconds after the measurement starts (`lead` leaves room to start every watch first);
* every job is watched from its creation: the bridge through `watch.add` (request/reply), the naive
  poller by putting it in its queue. Both pace their API calls with the same `SandboxTimeBudget`
  at `rate` requests per API minute, and both poll at `Priority.POLL` (the same 90 % share).

Detection latency is when the poller saw READY (the bridge: when its `job.ready` event arrived)
minus when the job became READY in the sandbox (its `completedAt`), in API seconds. Calls are
counted from the sandbox's request log over the measured window (start to the last detection).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import math
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from pydantic import SecretStr

from bridge.cli.bench.common import (
    UNLIMITED_PER_MINUTE,
    SandboxTimeBudget,
    Stats,
    api_seconds,
    approved_plans,
    sleep_until,
)
from bridge.config import BridgeSettings
from bridge.http.errors import UpstreamError
from bridge.http.keys import ApiKey
from bridge.http.ratelimit import Priority, RateBudget
from bridge.names import Subjects
from bridge.nats.embedded import EmbeddedNats
from bridge.providers.story.client import StoryClient, story_transport
from bridge.runtime import Bridge
from bridge.sandboxes.kit.clock import SandboxClock
from bridge.sandboxes.story import StorySandboxConfig, StorySandboxServer
from handlers.story.plugin import sandbox_key
from schemas.story.requests import JobCreate

TERMINAL = {"READY", "FAILED", "CANCELED"}


@dataclass(frozen=True)
class PollParams:
    jobs: int = 1000
    projects: int = 10
    rate: int = 120  # requests per API minute
    speed: float = 10.0  # sandbox seconds per wall second
    window: float = 120.0  # API seconds over which the READY moments are spread
    lead: float = 60.0  # API seconds from the start to the first READY moment
    naive_interval: float = 5.0  # the docs' job poll interval
    naive_workers: int = 8  # as many reads in flight as the bridge's StoryProvider allows
    watch_concurrency: int = 64
    share: float = 0.8  # STORYBRIDGE_POLL_BUDGET_SHARE
    naive_speed: float = 10.0  # the naive poller's own sandbox clock (its reads are small)
    commands_per_minute: float = 0.0  # the mixed run: project.create at this rate meanwhile

    def deadline(self) -> float:
        """API seconds after the start to give up: two naive sweeps past the last READY moment."""
        sweep = 60.0 * self.jobs / max(1.0, self.rate * 0.9)
        return self.lead + self.window + 2 * sweep + 60.0

    @property
    def sweep_calls(self) -> int:
        """List calls reading every watched job once: one page of 100 per project."""
        per_project = math.ceil(self.jobs / max(1, self.projects))
        return self.projects * math.ceil(per_project / 100)

    def bound(self, poller: str) -> dict[str, float]:
        """The best any poller could do under this budget: each job read every `period`
        seconds (one sweep at the poll budget, never below the docs' 5 s), a change waiting
        half of it on average and 0.95 of it at p95."""
        reserve = max(1, self.rate // 10)  # RateBudget's default commands' reserve
        if poller == "naive":  # one GET per job, at the polls' share the budget leaves it
            calls, per_second = self.jobs, (self.rate - reserve) / 60.0
        else:  # what RateBudget.poll_capacity grants with `commands_per_minute` under way
            left = self.rate - reserve - self.commands_per_minute - 1
            calls, per_second = self.sweep_calls, min(self.share * self.rate, left) / 60.0
        period = max(self.naive_interval, calls / per_second)
        return {
            "sweep_calls": calls,
            "poll_budget_per_second": per_second,
            "period": period,
            "p50": period / 2,
            "p95": 0.95 * period,
        }


@dataclass
class PollResult:
    poller: str
    jobs: int
    detected: int
    calls: int  # API requests in the measured window, from the sandbox log
    rejected: int  # of which 429
    seconds: float  # the measured window, API seconds
    latency: Stats
    late_watches: int = 0  # jobs READY before their watch was confirmed (should be 0)
    max_window_calls: int = 0  # the most calls in any 60 API s of the measured window
    bound: dict[str, float] = field(default_factory=dict)
    command_wait: Stats | None = None  # the mixed run: each command's wait for the budget (API s)

    @property
    def calls_per_minute(self) -> float:
        return self.calls / (self.seconds / 60.0) if self.seconds > 0 else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {
            "jobs": self.jobs,
            "detected": self.detected,
            "calls": self.calls,
            "rejected_429": self.rejected,
            "window_api_seconds": self.seconds,
            "calls_per_minute": self.calls_per_minute,
            "calls_per_job": self.calls / self.jobs if self.jobs else float("nan"),
            "latency_seconds": self.latency.as_dict(),
            "late_watches": self.late_watches,
            "max_calls_in_60s": self.max_window_calls,
            "bound_seconds": self.bound,
            "efficiency_p95": (
                self.bound["p95"] / self.latency.p95
                if self.bound and math.isfinite(self.latency.p95) and self.latency.p95 > 0
                else float("nan")
            ),
            "command_wait_seconds": self.command_wait.as_dict() if self.command_wait else None,
        }


class StaggeredJobs:
    """Creates the jobs in the sandbox world, each with the start delay that puts its READY
    moment at its slot in the window. Durations are the world's one knob, so it is set per job
    around each (synchronous, in-process) creation and restored at once."""

    def __init__(
        self,
        sandbox: StorySandboxServer,
        plans: list[tuple[str, str]],
        params: PollParams,
        t0: float,
    ) -> None:
        self.world = sandbox.state.world
        self.clock = sandbox.state.clock
        self.plans = plans
        self.params = params
        self.t0 = t0

    def ready_target(self, index: int) -> float:
        p = self.params
        return self.t0 + p.lead + p.window * (index + 0.5) / p.jobs

    def create(self, index: int) -> tuple[str, str]:
        """(job id, project id) of job `index`."""
        project_id, plan_id = self.plans[index % len(self.plans)]
        durations = self.world.durations
        original = durations.job_start
        start = self.ready_target(index) - durations.job_generate - self.clock.now()
        durations.job_start = max(0.0, start)
        try:
            job = self.world.jobs.create(JobCreate(storyPlanId=plan_id))
        finally:
            durations.job_start = original
        return str(job["id"]), project_id


def poll_sandbox(speed: float) -> StorySandboxServer:
    """Fault-free, never 429 by itself (the pollers' own budget is what is compared), rich."""
    return StorySandboxServer(
        StorySandboxConfig(
            speed=speed, rate_limit_per_minute=UNLIMITED_PER_MINUTE, initial_credits=10**9
        )
    )


def count_calls(sandbox: StorySandboxServer, t0: float, t_end: float) -> tuple[int, int, int]:
    """(requests, 429s, most requests in any 60 s) the sandbox logged between two moments."""
    calls = [e for e in sandbox.state.log.entries() if t0 <= e.sandboxTime <= t_end]
    times = sorted(e.sandboxTime for e in calls)
    most, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 60.0:
            start += 1
        most = max(most, end - start + 1)
    return len(calls), sum(1 for e in calls if e.status == 429), most


@dataclass
class Detector:
    """Records the first sighting of each job's READY (sandbox time seen, sandbox time it happened)."""

    clock: SandboxClock
    expected: int
    seen: dict[str, tuple[float, float]] = field(default_factory=dict)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def sighted(self, job: dict[str, Any]) -> None:
        job_id = str(job.get("id"))
        if job_id in self.seen or not job.get("completedAt"):
            return
        self.seen[job_id] = (self.clock.now(), api_seconds(str(job["completedAt"])))
        if len(self.seen) >= self.expected:
            self.done.set()

    async def on_event(self, msg: Msg) -> None:
        data = json.loads(msg.data).get("data") or {}
        self.sighted(data.get("snapshot") or {})

    async def wait(self, deadline: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                self.done.wait(), (deadline - self.clock.now()) / self.clock.speed
            )

    def result(
        self, poller: str, sandbox: StorySandboxServer, t0: float, late: int = 0
    ) -> PollResult:
        complete = len(self.seen) >= self.expected
        t_end = max((seen for seen, _ in self.seen.values()), default=t0)
        if not complete:
            t_end = self.clock.now()
        calls, rejected, most = count_calls(sandbox, t0, t_end)
        latencies = [seen - ready for seen, ready in self.seen.values()]
        return PollResult(
            poller,
            self.expected,
            len(self.seen),
            calls,
            rejected,
            t_end - t0,
            Stats.of(latencies),
            late,
            most,
        )


# -- the bridge ----------------------------------------------------------------------------------


def bench_settings(
    params: PollParams, nats_url: str, base_url: str, data_dir: Path
) -> BridgeSettings:
    """The bridge as every poller run measures it: the run's budget and share, intervals scaled to
    the sandbox clock, `watch_concurrency` commands in flight."""
    return BridgeSettings(
        nats_url=nats_url,
        base_url=base_url,
        api_key=SecretStr(sandbox_key()),
        data_dir=data_dir,
        rate_limit_per_minute=params.rate,
        poll_interval_scale=1.0 / params.speed,
        poll_budget_share=params.share,
        max_in_flight=params.watch_concurrency,
        shutdown_grace_seconds=3.0,
    )


async def measure_bridge(
    params: PollParams, workdir: Path, *, poller: str = "bridge"
) -> PollResult:
    """The real bridge (intake, watch engine, StoryProvider, KV, events) on its own NATS.

    Setup (creating the jobs, `watch.add` of each, which reads the job once) runs with the
    sandbox clock stopped and an unlimited budget: it costs the measured window nothing, at any
    size. Then the clock runs, the budget is the measured one and the log starts."""
    sandbox = poll_sandbox(params.speed)
    await asyncio.to_thread(sandbox.start)
    embedded = await asyncio.to_thread(EmbeddedNats(workdir / f"nats-{poller}").start)
    bridge: Bridge | None = None
    nc: NATS | None = None
    mixer: asyncio.Task[None] | None = None
    try:
        clock = sandbox.state.clock
        plans = await approved_plans(sandbox.base_url, clock, params.projects)
        settings = bench_settings(
            params, embedded.url, sandbox.base_url, workdir / f"bridge-{poller}"
        )
        bridge = Bridge(settings)
        await bridge.start()
        assert bridge.client("story") is not None
        use_budget(bridge.client("story"), RateBudget(per_minute=UNLIMITED_PER_MINUTE))
        nc = await nats.connect(embedded.url)
        detector = Detector(clock, params.jobs)
        subjects = Subjects(settings.subject_prefix)
        await nc.subscribe(subjects.event("job.ready"), cb=detector.on_event)
        await nc.flush()
        t0 = clock.freeze()
        jobs = StaggeredJobs(sandbox, plans, params, t0)
        await _watch_all(nc, subjects, jobs, params)
        waits: list[float] = []
        budget = SandboxTimeBudget(params.rate, clock)
        budget.on_wait = lambda priority, waited: (
            waits.append(waited) if priority is Priority.COMMAND else None
        )
        use_budget(bridge.client("story"), budget)
        sandbox.state.log.clear()
        clock.resume()
        if params.commands_per_minute > 0:
            mixer = asyncio.create_task(_commands_meanwhile(nc, subjects, clock, params))
        await detector.wait(t0 + params.deadline())
        result = detector.result(poller, sandbox, t0, 0)
        result.bound = params.bound(poller)
        if params.commands_per_minute > 0:
            result.command_wait = Stats.of(waits)
        return result
    finally:
        if mixer is not None:
            mixer.cancel()
            with contextlib.suppress(BaseException):
                await mixer
        if nc is not None:
            await nc.close()
        if bridge is not None:
            await bridge.stop()
        await asyncio.to_thread(embedded.stop)
        await asyncio.to_thread(sandbox.stop)


async def _commands_meanwhile(
    nc: NATS, subjects: Subjects, clock: SandboxClock, params: PollParams
) -> None:
    """The mixed run: `project.create` over request/reply, evenly spaced in API time, while the
    poller fills its budget; each command's wait for a budget slot is what is reported."""
    spacing = 60.0 / params.commands_per_minute
    index = 0
    while True:
        await sleep_until(clock, clock.now() + spacing)
        body = {"name": f"bench mixed {index}", "commandId": f"bench-mixed-{uuid.uuid4()}"}
        index += 1
        with contextlib.suppress(Exception):
            await nc.request(subjects.request("project.create"), json.dumps(body).encode(), 30)


def use_budget(client: StoryClient, budget: RateBudget) -> None:
    """Give a running client another budget. The Bridge builds its own from BridgeSettings on the wall
    clock; the bench needs the same budget on the sandbox clock (see `SandboxTimeBudget`)."""
    client._transport.budget = budget


async def _watch_all(nc: NATS, subjects: Subjects, jobs: StaggeredJobs, params: PollParams) -> int:
    """Create each job and `watch.add` it at once (at most `watch_concurrency` in flight); returns
    how many watches were confirmed only after their job's READY moment (none while the sandbox
    clock is stopped)."""
    gate = asyncio.Semaphore(params.watch_concurrency)
    late = 0

    async def watch(index: int, job_id: str, project_id: str) -> None:
        nonlocal late
        try:
            body = {"resource": "job", "id": job_id, "projectId": project_id}
            body["commandId"] = f"bench-watch-{index}"
            reply = await nc.request(subjects.request("watch.add"), json.dumps(body).encode(), 30)
            outcome = json.loads(reply.data)
            if not outcome.get("ok"):
                raise RuntimeError(f"watch.add failed: {outcome.get('error')}")
            if jobs.clock.now() > jobs.ready_target(index):
                late += 1
        finally:
            gate.release()

    tasks: list[asyncio.Task[None]] = []
    for index in range(params.jobs):
        await gate.acquire()
        job_id, project_id = jobs.create(index)
        tasks.append(asyncio.create_task(watch(index, job_id, project_id)))
    await asyncio.gather(*tasks)
    return late


# -- the naive poller ----------------------------------------------------------------------------


async def measure_naive(params: PollParams, workdir: Path) -> PollResult:
    """One GET /story-jobs/{id} per job every `naive_interval` API seconds, through a StoryClient
    paced by the same budget; the jobs are polled earliest-due first by `naive_workers` tasks."""
    sandbox = poll_sandbox(params.naive_speed)
    await asyncio.to_thread(sandbox.start)
    try:
        clock = sandbox.state.clock
        plans = await approved_plans(sandbox.base_url, clock, params.projects)
        budget = SandboxTimeBudget(params.rate, clock)
        async with StoryClient(
            story_transport(sandbox.base_url, ApiKey.parse(sandbox_key()), budget=budget)
        ) as api:
            detector = Detector(clock, params.jobs)
            sandbox.state.log.clear()
            t0 = clock.now()
            jobs = StaggeredJobs(sandbox, plans, params, t0)
            queue = [(clock.now(), jobs.create(index)[0]) for index in range(params.jobs)]
            heapq.heapify(queue)
            workers = [
                asyncio.create_task(_naive_worker(api, queue, detector, params))
                for _ in range(params.naive_workers)
            ]
            try:
                await detector.wait(t0 + params.deadline())
            finally:
                for task in workers:
                    task.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
            result = detector.result("naive", sandbox, t0)
            result.bound = params.bound("naive")
            return result
    finally:
        await asyncio.to_thread(sandbox.stop)


async def _naive_worker(
    api: StoryClient, queue: list[tuple[float, str]], detector: Detector, params: PollParams
) -> None:
    clock = detector.clock
    while not detector.done.is_set():
        if not queue:  # every remaining job is being read by another worker right now
            await asyncio.sleep(params.naive_interval / clock.speed / 10)
            continue
        due, job_id = heapq.heappop(queue)
        await sleep_until(clock, due)
        try:
            job = (await api.get_job(job_id, priority=Priority.POLL)).raw["job"]
        except UpstreamError:
            heapq.heappush(queue, (clock.now() + params.naive_interval, job_id))
            continue
        if str(job.get("status")) in TERMINAL:
            detector.sighted(job)
        else:
            heapq.heappush(queue, (clock.now() + params.naive_interval, job_id))
