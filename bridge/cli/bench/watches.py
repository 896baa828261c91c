"""`storybridge bench --watches N`: the watch engine holding N watches over the sandbox.

The measured replica runs in its own process (so its RSS and CPU are its own); this process plays
everything around it: a nats-server, the sandbox (N RUNNING jobs seeded in 1 project per 100), the
watch records written straight into KV as if the jobs had already been seen RUNNING, and the
changes (1 % of the jobs per minute flip status). Figures:

- `startup_seconds`: `WatchEngine.start()` in a fresh replica: leases taken, every held shard's
  records loaded from KV and scheduled (process start and imports reported apart);
- `rss_mb` after the idle phase;
- `idle_cpu_percent`: CPU of one core used by the replica while nothing changes (polling goes
  on at the rate budget; that is the floor a replica holding N watches costs);
- `changing_cpu_percent`: the same while 1 % of the watches change per minute (each change is a
  KV write, a publish and a KV write);
- `handover_seconds`: a second replica is started, the first SIGKILLed; time until the second
  holds every shard with every record loaded (target: lease time + 10 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bridge.cli.bench.common import machine_facts

SAMPLE_SECONDS = 0.25
WRITE_CONCURRENCY = 512
KEPT_SAMPLES = 20_000  # a replica's latest samples kept (5,000 s at one per 0.25 s)


@dataclass(frozen=True)
class WatchBenchParams:
    watches: int = 100_000
    per_project: int = 100
    rate: int = 120  # the replica's API budget, requests per minute
    lease: float = 15.0
    idle_seconds: float = 30.0
    change_seconds: float = 60.0
    change_per_minute: float = 0.01  # share of the watches that change per minute


@dataclass
class ReplicaView:
    """What one replica process reported last, from its JSON lines on stdout."""

    started: dict[str, Any] | None = None
    samples: list[dict[str, Any]] = field(default_factory=list)


# -- the replica process ---------------------------------------------------------------------------


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _emit(doc: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stdout.flush()


async def replica(config: dict[str, Any]) -> None:
    """One bridge replica's watch engine and Story API poller, reporting as JSON lines."""
    import nats

    from bridge.http.ratelimit import RateBudget
    from bridge.names import Subjects
    from bridge.ops.logging import configure_logging
    from bridge.providers.story.client import StoryClient, story_transport
    from bridge.providers.story.watch.provider import StoryProvider
    from bridge.watch import WatchEngine, WatchSettings

    configure_logging("console", level="WARNING")
    imported = time.time()
    nc = await nats.connect(config["nats"])
    js = nc.jetstream()
    kv = await js.key_value("STORYBRIDGE_WATCHES")
    api = StoryClient(
        story_transport(
            config["base_url"], config["key"], budget=RateBudget(per_minute=int(config["rate"]))
        )
    )
    provider = StoryProvider(api, base_url=config["base_url"])
    settings = WatchSettings(
        lease_seconds=float(config["lease"]),
        replica_id=config["id"],
        **config.get("settings", {}),  # the churn run's fast clock and short retention
    )
    engine = WatchEngine(js, kv, {provider.name: provider}, Subjects("story"), settings)
    began = time.perf_counter()
    await engine.start()
    _emit(
        {
            "event": "started",
            "startup_seconds": time.perf_counter() - began,
            "import_seconds": imported - float(config["spawned"]),
            "active": engine.stats().active,
            "rss_mb": _rss_mb(),
        }
    )
    while True:
        await asyncio.sleep(SAMPLE_SECONDS)
        snap = engine.stats()
        _emit(
            {
                "event": "sample",
                "wall": time.time(),
                "cpu": time.process_time(),
                "rss_mb": _rss_mb(),
                "active": snap.active,
                "shards": len(engine.store.shards),
                "lag": snap.max_poll_lag,
                # What the churn run watches shrink: records mirrored, retire-heap entries.
                "records": len(engine.store.entries),
                "retire_heap": len(engine._retire),
            }
        )


# -- the orchestrator ------------------------------------------------------------------------------


async def measure_watches(params: WatchBenchParams, workdir: Path) -> dict[str, Any]:
    import nats

    from bridge.names import EVENTS_STREAM, Subjects
    from bridge.nats.embedded import EmbeddedNats
    from bridge.nats.streams import declare_standalone
    from bridge.sandboxes.story import StorySandboxConfig, StorySandboxServer
    from handlers.story.plugin import sandbox_key

    server = EmbeddedNats(workdir / "nats").start()
    sandbox = StorySandboxServer(
        StorySandboxConfig(speed=1.0, rate_limit_per_minute=10_000_000)
    ).start()
    procs: list[asyncio.subprocess.Process] = []
    try:
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        kv = await declare_standalone(js, Subjects("story"))
        seeded = time.perf_counter()
        jobs = _seed(sandbox, params)
        write_seconds = await _write_records(kv, jobs)
        setup_seconds = time.perf_counter() - seeded
        key = sandbox_key()
        config = {
            "nats": server.url,
            "base_url": sandbox.base_url,
            "key": key,
            "rate": params.rate,
            "lease": params.lease,
        }
        first, first_view = await _spawn(config, "a", procs)
        await _wait(lambda: first_view.started is not None, 600)
        assert first_view.started is not None
        await _wait(lambda: _latest(first_view, "active") == params.watches, 120)
        idle = await _cpu_over(first_view, params.idle_seconds)
        rss = _latest(first_view, "rss_mb")
        before = (await js.stream_info(EVENTS_STREAM)).state.messages
        changes, changing = await asyncio.gather(
            _change(sandbox, jobs, params), _cpu_over(first_view, params.change_seconds)
        )
        published = (await js.stream_info(EVENTS_STREAM)).state.messages - before
        _, second_view = await _spawn(config, "b", procs)
        await _wait(lambda: second_view.started is not None, 600)
        await _wait(lambda: (_latest(second_view, "shards") or 0) > 0, params.lease * 4)
        killed = time.time()
        first.kill()
        await first.wait()
        try:
            await _wait(
                lambda: (
                    _latest(second_view, "shards") == 32
                    and _latest(second_view, "active") == params.watches
                ),
                params.lease * 6 + 60,
            )
            handover = (_latest(second_view, "wall") or time.time()) - killed
        except TimeoutError:  # reported, not raised: the other figures still stand
            handover = float("nan")
        await nc.close()
        started = first_view.started
        return {
            "watches": params.watches,
            "projects": len({p for p, _ in jobs}),
            "rate_per_minute": params.rate,
            "lease_seconds": params.lease,
            "setup_seconds": setup_seconds,
            "kv_write_seconds": write_seconds,
            "startup_seconds": started["startup_seconds"],
            "import_seconds": started["import_seconds"],
            "rss_mb": rss,
            "rss_after_start_mb": started["rss_mb"],
            "peak_rss_mb": max(x.get("rss_mb", 0.0) for x in first_view.samples),
            "idle_cpu_percent": idle,
            "changing_cpu_percent": changing,
            "changes": changes,
            "events_published": published,
            "handover_seconds": handover,
            "targets": {
                "rss_mb": 200,
                "idle_cpu_percent": 5,
                "startup_seconds": 30,
                "handover_seconds": params.lease + 10,
            },
        }
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        sandbox.stop()
        server.stop()


def _seed(sandbox: Any, params: WatchBenchParams) -> list[tuple[str, str]]:
    """(projectId, jobId) of `watches` RUNNING jobs, `per_project` to a project."""
    world = sandbox.state.world
    out: list[tuple[str, str]] = []
    remaining = params.watches
    while remaining > 0:
        count = min(params.per_project, remaining)
        project = world.projects.create({"name": f"bench-{len(out)}"})["id"]
        out.extend((project, job) for job in world.jobs.seed(project, count))
        remaining -= count
    return out


async def _write_records(kv: Any, jobs: list[tuple[str, str]]) -> float:
    """Watch records as the engine writes them, each job already seen RUNNING (no first event)."""
    import nats.errors

    from bridge.watch.model import FacetState, WatchRecord, WatchSpec

    started = time.perf_counter()
    now = time.time()
    gate = asyncio.Semaphore(WRITE_CONCURRENCY)

    async def write(project: str, job: str) -> None:
        spec = WatchSpec(provider="story", resource="job", id=job, parents={"projectId": project})
        state = FacetState(status="running", token="running", seq=1, observed_at=now)
        record = WatchRecord(
            spec=spec,
            states={f"job:{job}:status": state},
            armed_at=now,
            expires_at=now + 21600,
        )
        async with gate:
            for attempt in range(5):
                try:
                    await kv.put(spec.key, record.encode())
                    break
                except nats.errors.TimeoutError:  # a busy machine: a put is safe to repeat
                    if attempt == 4:
                        raise

    await asyncio.gather(*(write(p, j) for p, j in jobs))
    return time.perf_counter() - started


async def _change(sandbox: Any, jobs: list[tuple[str, str]], params: WatchBenchParams) -> int:
    """Flip `change_per_minute` of the jobs per minute between RUNNING and PARTIAL, spread evenly."""
    world = sandbox.state.world
    per_second = params.watches * params.change_per_minute / 60.0
    rng = random.Random(7)
    flipped: dict[str, str] = {}
    done = 0.0
    began = time.monotonic()
    while time.monotonic() - began < params.change_seconds:
        await asyncio.sleep(1.0)
        due = int((time.monotonic() - began) * per_second) - int(done)
        for _ in range(max(0, due)):
            _, job = jobs[rng.randrange(len(jobs))]
            status = "PARTIAL" if flipped.get(job, "RUNNING") == "RUNNING" else "RUNNING"
            world.jobs.set_status(job, status)
            flipped[job] = status
            done += 1
    return int(done)


async def _spawn(
    config: dict[str, Any], replica_id: str, procs: list[asyncio.subprocess.Process]
) -> tuple[asyncio.subprocess.Process, ReplicaView]:
    doc = json.dumps({**config, "id": replica_id, "spawned": time.time()})
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bridge.cli.bench.watches",
        doc,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    procs.append(proc)
    view = ReplicaView()

    async def read() -> None:
        assert proc.stdout is not None
        async for line in proc.stdout:
            with contextlib.suppress(ValueError):
                doc = json.loads(line)
                if doc.get("event") == "started":
                    view.started = doc
                elif doc.get("event") == "sample":
                    view.samples.append(doc)
                    del view.samples[:-KEPT_SAMPLES]

    asyncio.get_running_loop().create_task(read())
    return proc, view


def _latest(view: ReplicaView, name: str) -> Any:
    return view.samples[-1].get(name) if view.samples else None


async def _wait(check: Any, limit: float) -> None:
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("bench replica did not get there in time")
        await asyncio.sleep(0.1)


async def _cpu_over(view: ReplicaView, seconds: float) -> float:
    """Percent of one core the replica used over the next `seconds`."""
    await _wait(lambda: bool(view.samples), 60)
    first = view.samples[-1]
    await asyncio.sleep(seconds)
    last = view.samples[-1]
    wall = last["wall"] - first["wall"]
    return 100.0 * (last["cpu"] - first["cpu"]) / wall if wall > 0 else float("nan")


async def run_watch_bench(params: WatchBenchParams) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="storybridge-bench-watches-") as tmp:
        figures = await measure_watches(params, Path(tmp))
    return {"machine": machine_facts(), "params": asdict(params), "watches": figures}


if __name__ == "__main__":  # the replica process
    asyncio.run(replica(json.loads(sys.argv[1])))


def print_watch_bench(console: Any, figures: dict[str, Any]) -> None:
    from rich.table import Table

    w, facts = figures["watches"], figures["machine"]
    console.rule("[bold]storybridge bench --watches")
    console.print(f"machine: {facts['cores']} cores ({facts['cpu']}), {facts['python']}")
    console.print(
        f"{w['watches']:,} watched jobs over {w['projects']:,} projects, budget "
        f"{w['rate_per_minute']} req/min, lease {w['lease_seconds']:g} s; setup (sandbox seed + "
        f"KV writes) {w['setup_seconds']:.1f} s"
    )
    table = Table(title=f"Watch engine holding {w['watches']:,} watches (one replica process)")
    for column in ("figure", "measured", "target"):
        table.add_column(column, justify="left" if column == "figure" else "right")
    t = w["targets"]
    rows = [
        ("RSS", f"{w['rss_mb']:.0f} MB", f"< {t['rss_mb']} MB"),
        (
            "CPU idle (polling at the budget)",
            f"{w['idle_cpu_percent']:.1f} %",
            f"< {t['idle_cpu_percent']} %",
        ),
        ("CPU while 1 %/min change", f"{w['changing_cpu_percent']:.1f} %", ""),
        ("start-up (KV load)", f"{w['startup_seconds']:.1f} s", f"< {t['startup_seconds']} s"),
        (
            "hand-over to a second replica",
            f"{w['handover_seconds']:.1f} s",
            f"< {t['handover_seconds']:g} s",
        ),
    ]
    for row in rows:
        table.add_row(*row)
    console.print(table)
    console.print(
        f"[dim]{w['changes']} changes in the change phase, {w['events_published']} events "
        f"published; process start and imports {w['import_seconds']:.1f} s before start-up[/dim]"
    )
