"""Isolation (issue 22): durable commands on a healthy route while another route fails, beside the
same run's healthy baseline.

One sandbox, one nats-server, one bridge. Phase 1 (baseline): `healthy` durable `credits.get`
commands at a steady pace, publish-to-outcome latency each. Phase 2 (failing): the sandbox answers
503 to POST /story-projects, `stuck` durable `project.create` are published at once, then the same
healthy commands as in phase 1. Then the fault is lifted and the time until every stuck command
succeeded is taken (the release). Also counted: the requests the failing route cost while it
failed (probes, not one per command) and the effects (one project per stuck command).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from pydantic import SecretStr

from bridge.cli.bench.common import UNLIMITED_PER_MINUTE, Stats
from bridge.config import BridgeSettings
from bridge.names import Subjects
from bridge.nats.embedded import EmbeddedNats
from bridge.runtime import Bridge
from bridge.sandboxes.story import StorySandboxConfig, StorySandboxServer
from handlers.story.plugin import sandbox_key

HEALTHY_PER_SECOND = 5.0
FAILING_ROUTE = "/story-projects"


@dataclass(frozen=True)
class IsolationResult:
    stuck: int
    baseline: Stats  # healthy latency, seconds, nothing failing
    failing: Stats  # healthy latency, seconds, one route failing under `stuck` commands
    failing_seconds: float  # how long the route failed
    failing_requests: int  # requests the failing route cost meanwhile
    release_seconds: float  # fault lifted -> every stuck command succeeded
    effects: int  # projects created by the stuck commands (one each)

    def as_dict(self) -> dict[str, Any]:
        def ms(stats: Stats) -> dict[str, float]:
            return {"p50": stats.p50 * 1000, "p99": stats.p99 * 1000, "max": stats.max * 1000}

        return {
            "stuck": self.stuck,
            "baseline_ms": ms(self.baseline),
            "failing_ms": ms(self.failing),
            "failing_requests_per_minute": self.failing_requests * 60 / self.failing_seconds,
            "release_seconds": self.release_seconds,
            "effects": self.effects,
        }


class _Done:
    def __init__(self) -> None:
        self.at: dict[str, float] = {}

    async def on_msg(self, msg: Msg) -> None:
        event = json.loads(msg.data)
        if event["type"].endswith((".succeeded", ".failed")):
            self.at.setdefault(event["data"]["commandId"], time.perf_counter())


async def _healthy(nc: NATS, subjects: Subjects, done: _Done, label: str, count: int) -> Stats:
    sent: dict[str, float] = {}
    js = nc.jetstream()
    for i in range(count):
        cid = f"bench-{label}-{i}"
        sent[cid] = time.perf_counter()
        await js.publish(subjects.command("credits.get"), json.dumps({"commandId": cid}).encode())
        await asyncio.sleep(1 / HEALTHY_PER_SECOND)
    await _until(lambda: all(c in done.at for c in sent), 120)
    return Stats.of([done.at[c] - sent[c] for c in sent])


async def _until(check: Any, limit: float) -> None:
    deadline = time.perf_counter() + limit
    while not check():
        if time.perf_counter() > deadline:
            raise TimeoutError("isolation bench: commands not answered in time")
        await asyncio.sleep(0.05)


async def measure_isolation(stuck: int, healthy: int, workdir: Path) -> IsolationResult:
    sandbox = StorySandboxServer(StorySandboxConfig(rate_limit_per_minute=UNLIMITED_PER_MINUTE))
    await asyncio.to_thread(sandbox.start)
    embedded = await asyncio.to_thread(EmbeddedNats(workdir / "nats-iso").start)
    bridge: Bridge | None = None
    nc: NATS | None = None
    try:
        settings = BridgeSettings(
            nats_url=embedded.url,
            base_url=sandbox.base_url,
            api_key=SecretStr(sandbox_key()),
            data_dir=workdir / "bridge-iso",
            rate_limit_per_minute=UNLIMITED_PER_MINUTE,
            shutdown_grace_seconds=3.0,
            command_retry_base_seconds=1.0,
            route_probe_max_seconds=5.0,
        )
        bridge = Bridge(settings)
        await bridge.start()
        subjects = Subjects(settings.subject_prefix)
        nc = await nats.connect(embedded.url)
        done = _Done()
        await nc.subscribe(subjects.event("command.*"), cb=done.on_msg)
        baseline = await _healthy(nc, subjects, done, "base", healthy)

        control = sandbox.control
        control.put("/faults", json=[{"path": FAILING_ROUTE, "method": "POST", "status": 503}])
        failing_since = time.perf_counter()
        js = nc.jetstream()
        for i in range(stuck):
            body = {"commandId": f"bench-stuck-{i}", "name": f"stuck {i}"}
            await js.publish(subjects.command("project.create"), json.dumps(body).encode())
        failing = await _healthy(nc, subjects, done, "failing", healthy)
        failing_seconds = time.perf_counter() - failing_since
        failing_requests = len(_posts(sandbox))
        control.delete("/faults")
        lifted = time.perf_counter()
        ids = [f"bench-stuck-{i}" for i in range(stuck)]
        await _until(lambda: all(c in done.at for c in ids), 600)
        release = max(done.at[c] for c in ids) - lifted if ids else 0.0
        effects = len({e["idempotencyKey"] for e in _posts(sandbox) if e["status"] == 200})
        return IsolationResult(
            stuck, baseline, failing, failing_seconds, failing_requests, release, effects
        )
    finally:
        if nc is not None:
            await nc.close()
        if bridge is not None:
            await bridge.stop()
        await asyncio.to_thread(embedded.stop)
        await asyncio.to_thread(sandbox.stop)


def _posts(sandbox: StorySandboxServer) -> list[dict[str, Any]]:
    entries = sandbox.control.get("/requests").json()["requests"]
    return [e for e in entries if e["method"] == "POST" and e["path"] == FAILING_ROUTE]
