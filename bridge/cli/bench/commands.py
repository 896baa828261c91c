"""Command path: what the bridge adds on top of one API call, at concurrency 1 and 64.

The command is `project.create` over request/reply (`{p}.req.project.create`), each with its own
`commandId`, so every one is a real POST /story-projects. The baseline is the least a NATS
front end can do: a raw nats-py responder that makes exactly one httpx POST to the same sandbox
endpoint per request (with an Idempotency-Key, as the bridge sends) and replies with the body.
Both are driven by the same requester at the same concurrency, against one sandbox whose rate
limit (and the bridge's budget) nobody reaches, so this measures overhead, not pacing: command
validation, idempotency key derivation, the client, the outcome document and its event.

Everything runs in this one process (sandbox thread, bridge, responder, requester) except
nats-server: absolute figures are a floor for this machine, the ratios are the point.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
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

BASELINE_SUBJECT = "bench.baseline.project.create"
WARMUP = 20


@dataclass(frozen=True)
class RunResult:
    """One requester run: `count` requests at `concurrency`."""

    count: int
    concurrency: int
    seconds: float  # wall
    failures: int
    latency: Stats  # wall seconds per request

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else float("nan")

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "concurrency": self.concurrency,
            "seconds": self.seconds,
            "failures": self.failures,
            "commands_per_second": self.per_second,
            "latency_ms": {
                "p50": self.latency.p50 * 1000,
                "p99": self.latency.p99 * 1000,
                "max": self.latency.max * 1000,
            },
        }


async def drive(
    nc: NATS,
    subject: str,
    count: int,
    concurrency: int,
    ok: Callable[[dict[str, Any]], bool],
    label: str,
) -> RunResult:
    """`count` requests from `concurrency` workers, each sending its next one on reply."""
    latencies: list[float] = []
    failures = 0
    numbers = iter(range(count))

    async def worker() -> None:
        nonlocal failures
        for number in numbers:
            body = {"name": f"bench {label} {number}", "commandId": f"bench-{uuid.uuid4()}"}
            started = time.perf_counter()
            try:
                reply = await nc.request(subject, json.dumps(body).encode(), timeout=30)
                good = ok(json.loads(reply.data))
            except Exception:
                good = False
            latencies.append(time.perf_counter() - started)
            failures += 0 if good else 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return RunResult(count, concurrency, elapsed, failures, Stats.of(latencies))


def bridge_ok(outcome: dict[str, Any]) -> bool:
    return bool(outcome.get("ok"))


def baseline_ok(body: dict[str, Any]) -> bool:
    return "project" in body


class BaselineResponder:
    """The baseline: one httpx POST per NATS request, replied with the response body as-is."""

    def __init__(self, base_url: str) -> None:
        self.headers = {"Authorization": f"Bearer {sandbox_key()}"}
        self.http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",
            timeout=30,
            # The bridge's own client pool size, so neither side wins on connections.
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
        )
        self.nc: NATS | None = None
        self.handled = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, nats_url: str) -> None:
        self.nc = await nats.connect(nats_url)
        await self.nc.subscribe(BASELINE_SUBJECT, queue="baseline", cb=self._on_msg)
        await self.nc.flush()

    async def _on_msg(self, msg: Msg) -> None:
        # nats-py runs one callback at a time per subscription: hand off to serve concurrently.
        task = asyncio.create_task(self._handle(msg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, msg: Msg) -> None:
        body = json.loads(msg.data)
        key = str(uuid.uuid5(uuid.NAMESPACE_URL, f"project.create:{body.pop('commandId')}"))
        resp = await self.http.post(
            "story-projects", json=body, headers={**self.headers, "Idempotency-Key": key}
        )
        self.handled += 1
        await msg.respond(resp.content)

    async def stop(self) -> None:
        if self.nc is not None:
            await self.nc.close()
        await self.http.aclose()


async def measure_commands(
    count: int, levels: Sequence[int], workdir: Path
) -> dict[int, dict[str, RunResult]]:
    """{concurrency: {"bridge": RunResult, "baseline": RunResult}}; baseline first at each level."""
    sandbox = StorySandboxServer(StorySandboxConfig(rate_limit_per_minute=UNLIMITED_PER_MINUTE))
    await asyncio.to_thread(sandbox.start)
    embedded = await asyncio.to_thread(EmbeddedNats(workdir / "nats-cmd").start)
    bridge: Bridge | None = None
    baseline = BaselineResponder(sandbox.base_url)
    requester: NATS | None = None
    try:
        settings = BridgeSettings(
            nats_url=embedded.url,
            base_url=sandbox.base_url,
            api_key=SecretStr(sandbox_key()),
            data_dir=workdir / "bridge-cmd",
            rate_limit_per_minute=UNLIMITED_PER_MINUTE,
            max_in_flight=max(levels),
            shutdown_grace_seconds=3.0,
        )
        bridge = Bridge(settings)
        await bridge.start()
        await baseline.start(embedded.url)
        requester = await nats.connect(embedded.url)
        subject = Subjects(settings.subject_prefix).request("project.create")
        targets = (("baseline", BASELINE_SUBJECT, baseline_ok), ("bridge", subject, bridge_ok))
        results: dict[int, dict[str, RunResult]] = {}
        for level in levels:
            results[level] = {}
            for name, target, ok in targets:
                await drive(requester, target, WARMUP, min(level, WARMUP), ok, f"warmup {name}")
                run = await drive(requester, target, count, level, ok, f"{name} c{level}")
                results[level][name] = run
        return results
    finally:
        if requester is not None:
            await requester.close()
        await baseline.stop()
        if bridge is not None:
            await bridge.stop()
        await asyncio.to_thread(embedded.stop)
        await asyncio.to_thread(sandbox.stop)
