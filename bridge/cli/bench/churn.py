"""`storybridge bench --watches --churn SECONDS`: memory over a long life of added, finished and
retired watches.

The replica runs in its own process (`bridge.cli.bench.watches.replica`, so its RSS is its own)
on a fast clock: the sandbox runs `speed` sandbox seconds per wall second, and the engine's
intervals, retention and max age are scaled by the same factor. This process plays the rest:
every sandbox second it adds `per_second` RUNNING jobs and their watch records (as `watch.add`
writes them: not read yet, so the first read publishes), turns each job READY `lifetime` later
(the watch finishes), and the engine deletes each finished record `retain` after that. Once
`lifetime + retain` has passed, the number of records held is flat, so anything the replica's
RSS still gains is memory that outlives the records it was for.

Reported: the RSS slope after the warm-up (least squares over the samples), per hour of sandbox
time (an hour of that churn) and per wall hour, and the records and retire-heap entries held at
the end next to what the churn rate predicts.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bridge.cli.bench.common import machine_facts
from bridge.cli.bench.watches import WRITE_CONCURRENCY, ReplicaView, _spawn, _wait

MAX_AGE = 21600.0  # the default STORYBRIDGE_WATCH_MAX_AGE_SECONDS, in sandbox seconds


@dataclass(frozen=True)
class ChurnParams:
    seconds: float = 3600.0  # sandbox seconds of churn
    speed: float = 20.0  # sandbox seconds per wall second
    per_second: float = 2.0  # watches added per sandbox second (and, once warm, retired)
    lifetime: float = 120.0  # sandbox seconds a job runs before it turns READY
    retain: float = 300.0  # sandbox seconds a finished record is kept (retain_done_seconds)
    per_project: int = 100
    rate: int = 120  # the replica's API budget, requests per sandbox minute
    lease: float = 15.0
    warmup: float = 0.25  # share of the run left out of the slope: the population still grows

    @property
    def held(self) -> float:
        """Records the churn keeps in steady state: running, then finished and retained."""
        return self.per_second * (self.lifetime + self.retain)


async def measure_churn(params: ChurnParams, workdir: Path) -> dict[str, Any]:
    import nats

    from bridge.names import Subjects
    from bridge.nats.embedded import EmbeddedNats
    from bridge.nats.streams import declare_standalone
    from bridge.sandboxes.story import StorySandboxConfig, StorySandboxServer
    from handlers.story.plugin import sandbox_key

    server = EmbeddedNats(workdir / "nats").start()
    sandbox = StorySandboxServer(
        StorySandboxConfig(speed=params.speed, rate_limit_per_minute=10_000_000)
    ).start()
    procs: list[asyncio.subprocess.Process] = []
    try:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        kv = await declare_standalone(js, Subjects("story"))
        config = {
            "nats": server.url,
            "base_url": sandbox.base_url,
            "key": sandbox_key(),
            "rate": int(params.rate * params.speed),  # per wall minute
            "lease": params.lease,
            "settings": {
                "interval_scale": 1.0 / params.speed,
                "retain_done_seconds": params.retain / params.speed,
                "max_age": MAX_AGE / params.speed,
            },
        }
        _, view = await _spawn(config, "a", procs)
        await _wait(lambda: view.started is not None, 120)
        began = time.time()
        added, finished = await _churn(sandbox, kv, params)
        ended = time.time()
        await nc.close()
        return _figures(params, view, began, ended, added, finished)
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        sandbox.stop()
        server.stop()


async def _churn(sandbox: Any, kv: Any, params: ChurnParams) -> tuple[int, int]:
    """Add, then finish, watches at a steady rate for `seconds` sandbox seconds."""
    from bridge.watch.model import WatchRecord, WatchSpec

    world = sandbox.state.world
    gate = asyncio.Semaphore(WRITE_CONCURRENCY)
    running: deque[tuple[float, str]] = deque()  # (READY at, sandbox seconds into the run; job)
    project, in_project, added, finished = "", params.per_project, 0, 0
    began = time.monotonic()

    async def write(project: str, job: str, now: float) -> None:
        spec = WatchSpec(provider="story", resource="job", id=job, parents={"projectId": project})
        record = WatchRecord(spec=spec, armed_at=now, expires_at=now + MAX_AGE / params.speed)
        async with gate:
            await kv.put(spec.key, record.encode())

    while (elapsed := (time.monotonic() - began) * params.speed) < params.seconds:
        due = int(elapsed * params.per_second) - added
        writes = []
        while due > 0:
            if in_project >= params.per_project:
                project, in_project = world.projects.create({"name": f"churn-{added}"})["id"], 0
            count = min(due, params.per_project - in_project)
            now = time.time()
            for job in world.jobs.seed(project, count):
                writes.append(write(project, job, now))
                running.append((elapsed + params.lifetime, job))
            in_project, added, due = in_project + count, added + count, due - count
        await asyncio.gather(*writes)
        while running and running[0][0] <= elapsed:
            world.jobs.set_status(running.popleft()[1], "READY")
            finished += 1
        await asyncio.sleep(1.0 / params.speed)  # one sandbox second
    return added, finished


def _figures(
    params: ChurnParams, view: ReplicaView, began: float, ended: float, added: int, finished: int
) -> dict[str, Any]:
    warm = began + params.warmup * (ended - began)
    samples = [s for s in view.samples if warm <= s["wall"] <= ended]
    per_wall_second = _slope([(s["wall"], s["rss_mb"]) for s in samples])
    last = samples[-1] if samples else {}
    return {
        "sandbox_seconds": params.seconds,
        "wall_seconds": ended - began,
        "speed": params.speed,
        "added": added,
        "finished": finished,
        "samples": len(samples),
        "rss_start_mb": samples[0]["rss_mb"] if samples else float("nan"),
        "rss_end_mb": last.get("rss_mb", float("nan")),
        "peak_rss_mb": max((s["rss_mb"] for s in view.samples), default=float("nan")),
        # Per sandbox hour: the memory an hour of this churn leaves behind.
        "rss_slope_mb_per_hour": per_wall_second * 3600.0 / params.speed,
        "rss_slope_mb_per_wall_hour": per_wall_second * 3600.0,
        "records_end": last.get("records", 0),
        "records_max": max((s.get("records", 0) for s in samples), default=0),
        "retire_heap_end": last.get("retire_heap", 0),
        "records_expected": params.held,
        "targets": {"rss_slope_mb_per_hour": 5.0},
    }


def _slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x (nan with fewer than two points)."""
    if len(points) < 2:
        return float("nan")
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((x - mx) ** 2 for x, _ in points)
    if var == 0:
        return float("nan")
    return sum((x - mx) * (y - my) for x, y in points) / var


async def run_churn_bench(params: ChurnParams) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="storybridge-bench-churn-") as tmp:
        figures = await measure_churn(params, Path(tmp))
    return {"machine": machine_facts(), "params": asdict(params), "churn": figures}


def print_churn_bench(console: Any, figures: dict[str, Any]) -> None:
    from rich.table import Table

    c, p, facts = figures["churn"], figures["params"], figures["machine"]
    console.rule("[bold]storybridge bench --watches --churn")
    console.print(f"machine: {facts['cores']} cores ({facts['cpu']}), {facts['python']}")
    console.print(
        f"{c['sandbox_seconds']:g} sandbox s at {c['speed']:g}x ({c['wall_seconds']:.0f} wall s): "
        f"{p['per_second']:g} watches added per sandbox s, READY after {p['lifetime']:g} s, "
        f"retained {p['retain']:g} s; {c['added']:,} added, {c['finished']:,} finished"
    )
    table = Table(
        title=f"One replica under churn (slope after the first {p['warmup']:.0%} of the run)"
    )
    for column in ("figure", "measured", "target"):
        table.add_column(column, justify="left" if column == "figure" else "right")
    t = c["targets"]
    table.add_row(
        "RSS slope per hour of churn",
        f"{c['rss_slope_mb_per_hour']:+.2f} MB/h",
        f"< {t['rss_slope_mb_per_hour']:g} MB/h",
    )
    table.add_row("RSS slope per wall hour", f"{c['rss_slope_mb_per_wall_hour']:+.1f} MB/h", "")
    table.add_row(
        "RSS after warm-up / at the end", f"{c['rss_start_mb']:.1f} / {c['rss_end_mb']:.1f} MB", ""
    )
    table.add_row(
        "records held at the end (max)",
        f"{c['records_end']:,} ({c['records_max']:,})",
        f"~{c['records_expected']:,.0f}",
    )
    table.add_row("retire-heap entries at the end", f"{c['retire_heap_end']:,}", "")
    console.print(table)
