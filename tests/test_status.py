"""`admin.status` and `storybridge status`: the fleet from NATS alone, against real bridges, a real
nats-server and the sandbox, with one replica and with two (in-process, and as processes killed -9)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from rich.console import Console

from bridge.cli.send import request_answered
from bridge.cli.status import render
from bridge.names import DEAD_LETTERS_STREAM
from bridge.nats.embedded import EmbeddedNats
from bridge.nats.service_api import SERVICE_NAME
from bridge.ops.metrics import Metrics
from bridge.runtime import Bridge
from bridge.watch.model import SHARDS
from schemas.wire.status import FleetStatus
from tests.fixtures.bridge import (
    SUBJECTS,
    Outcomes,
    StartBridge,
    bridge_settings,
    create_plan,
    send,
)
from tests.fixtures.waiting import until

pytestmark = pytest.mark.slow


async def fleet(nc: NatsClient) -> dict[str, Any]:
    """One `admin.status` answer (the outcome's result), checked against the documented shape."""
    reply = await request_answered(nc, SUBJECTS.request("admin.status"), b"{}", timeout=10)
    outcome = json.loads(reply.data)
    assert outcome["ok"] is True, outcome
    FleetStatus.model_validate(outcome["result"])
    return dict(outcome["result"])


async def cli_status(nats_url: str, *args: str) -> str:
    """`storybridge status` as a user runs it: its own process, NATS only (not blocking the loop
    the in-process replicas answer on)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STORYBRIDGE_")}
    env["COLUMNS"] = "200"  # rich wraps to the terminal; keep rows whole for the asserts
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bridge.cli.app",
        "status",
        "--nats-url",
        nats_url,
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    return out.decode()


@pytest.fixture
async def replicas(
    nats_server: EmbeddedNats, sandbox: Any, sandbox_key: str, tmp_path: Path, nc: NatsClient
) -> AsyncIterator[list[Bridge]]:
    """Two in-process replicas, each with its own metrics (event delays, gauges), one intake."""
    started: list[Bridge] = []
    try:
        for index in range(2):
            settings = bridge_settings(
                nats_server.url,
                sandbox.base_url,
                sandbox_key,
                tmp_path / f"b{index}",
                # Retried once, then past its deadline: parked for a few seconds, then buried.
                command_deadline_seconds=8.0,
                command_retry_base_seconds=30.0,
                circuit_probe_seconds=30.0,
                credits_low_threshold=50.0,
            )
            bridge = Bridge(settings, metrics=Metrics(process=False))
            await bridge.start()
            started.append(bridge)
        await request_answered(nc, f"$SRV.PING.{SERVICE_NAME}", b"", timeout=5)
        yield started
    finally:
        for bridge in started:
            await bridge.stop()


async def test_status_of_two_replicas_shows_parked_dead_letter_and_open_circuit(
    replicas: list[Bridge],
    nc: NatsClient,
    outcomes: Outcomes,
    sandbox: Any,
    sandbox_key: str,
    nats_server: EmbeddedNats,
) -> None:
    """Two replicas split the shards; a plan's watch, its events' delay, credits and the poll budget
    appear; a command answered 503 is parked, then dead-lettered by its deadline; a revoked key
    opens the circuit. `storybridge status` shows all of it, `--json` as the documented document."""
    ids = {b.engine.settings.replica_id for b in replicas if b.engine is not None}

    async def shards_split() -> dict[str, Any] | None:
        doc = await fleet(nc)
        alive = [r for r in doc["replicas"] if r["alive"]]
        held = {r["id"]: r["shards"] for r in alive}
        fair = set(held) == ids and all(len(s) == SHARDS // 2 for s in held.values())
        return doc if fair and not doc["shards"]["unowned"] else None

    doc = await until(shards_split)
    assert doc["shards"] == {"total": SHARDS, "owned": SHARDS, "unowned": []}
    # Each replica says when it last read the fleet (StorybridgeFleetReportStale reads it).
    stamps = [
        b.metrics.registry.get_sample_value("storybridge_fleet_report_timestamp_seconds")
        for b in replicas
    ]
    assert all(stamp is not None and stamp > 0 for stamp in stamps), stamps

    project = (await send(nc, outcomes, "request", "project.create", {"name": "s"}))["result"]
    await create_plan(nc, outcomes, project["project"]["id"])

    def plan_watched(doc: dict[str, Any]) -> bool:
        return any(
            (w["provider"], w["resource"]) == ("story", "plan") and w["count"] >= 1
            for w in doc["watches"]
        )

    async def watched_with_delays() -> dict[str, Any] | None:
        doc = await fleet(nc)
        return doc if plan_watched(doc) and doc["eventDelay"]["fleetCount"] >= 1 else None

    doc = await until(watched_with_delays)
    assert doc["eventDelay"]["fleetP95"] is not None
    assert {c["provider"]: c["balance"] for c in doc["credits"]}["story"] == 1000
    assert {c["provider"]: c["lowThreshold"] for c in doc["credits"]}["story"] == 50
    budget = {b["provider"]: b for b in doc["pollBudget"]}["story"]
    assert budget["limitPerMinute"] > 0 and budget["usedPerMinute"] >= 1
    assert doc["commands"]["parked"] == 0 and doc["deadLetters"]["count"] == 0

    # Parked: the API answers 503 to project.create, the durable command waits for its retry.
    sandbox.control.put(
        "/faults", json=[{"path": "/story-projects", "method": "POST", "status": 503}]
    )
    await nc.jetstream().publish(
        SUBJECTS.command("project.create"), b'{"name": "parked", "commandId": "parked-1"}'
    )
    await outcomes.wait_for("parked-1", kinds=("retrying",))
    # Parked in STORYBRIDGE_PARKED (acked from the commands consumer, holding none of its slots):
    # status counts it from that stream.
    doc = await until(lambda: _parked(nc))
    assert doc["commands"]["parked"] == 1
    shown = await cli_status(nats_server.url)
    assert "Commands" in shown and "parked" in shown

    # Dead letter: its deadline passes while it waits, the redelivery buries it.
    await outcomes.wait_for("parked-1", kinds=("dead_lettered",))
    doc = await until(lambda: _dead(nc))
    assert doc["deadLetters"]["byReason"] == {"deadline": 1}
    assert doc["deadLetters"]["byCommand"] == {"project.create": 1}
    assert doc["deadLetters"]["oldestAgeSeconds"] is not None
    assert doc["commands"]["parked"] == 0
    # Its last outcome counts from the JetStream message time: the ~8 s it was parked included,
    # though that execution itself took the retry budget's 3 s.
    late = sum(_latency_over(b, "project.create", "upstream_unavailable", 5.0) for b in replicas)
    assert late >= 1

    # An open circuit: the key is revoked, the next call opens the provider's circuit.
    sandbox.control.put("/faults", json=[])
    sandbox.control.put("/keys/state", json={"key": sandbox_key, "state": "revoked"})
    await send(nc, outcomes, "request", "project.create", {"name": "refused"})
    doc = await until(lambda: _circuit_open(nc))
    story = next(c for c in doc["circuits"] if c["provider"] == "story")
    assert story["code"] == "api_key_revoked" and story["since"]

    as_json = json.loads(await cli_status(nats_server.url, "--json"))
    FleetStatus.model_validate(as_json)
    assert as_json["deadLetters"]["count"] == 1
    assert {r["id"] for r in as_json["replicas"] if r["alive"]} == ids
    text = await cli_status(nats_server.url)
    for shown_item in ("Replicas", "Watches", "Circuits", "open", "api_key_revoked", "deadline"):
        assert shown_item in text, shown_item
    assert sandbox_key.rsplit("_", 1)[1] not in text + json.dumps(as_json)


def _latency_over(bridge: Bridge, command: str, outcome: str, seconds: float) -> float:
    """How many of `command`'s latencies with `outcome` were above `seconds` on this replica."""
    labels = {"command": command, "outcome": outcome}
    registry = bridge.metrics.registry
    total = registry.get_sample_value("storybridge_command_latency_seconds_count", labels) or 0.0
    within = registry.get_sample_value(
        "storybridge_command_latency_seconds_bucket", {**labels, "le": str(seconds)}
    )
    return total - (within or 0.0)


async def _parked(nc: NatsClient) -> dict[str, Any] | None:
    doc = await fleet(nc)
    return doc if doc["commands"]["parked"] >= 1 else None


async def _dead(nc: NatsClient) -> dict[str, Any] | None:
    doc = await fleet(nc)
    return doc if doc["deadLetters"]["count"] >= 1 else None


async def _circuit_open(nc: NatsClient) -> dict[str, Any] | None:
    doc = await fleet(nc)
    return doc if any(c["open"] for c in doc["circuits"]) else None


async def test_a_killed_replica_leaves_its_shards_unowned_until_they_are_taken_over(
    bridge_process: Any, nc: NatsClient, nats_server: EmbeddedNats
) -> None:
    """SIGKILL of one of two replica processes: it stops renewing its heartbeat, so status shows it
    dead and its shards unowned (its leases not yet expired, nobody polls them), then the survivor
    takes them over and nothing is unowned."""
    # The killed one's leases last long enough for the gap to be seen (dead after three missed
    # renewals, 13 s; leases until 20 s); the survivor renews (and claims) every 0.6 s.
    doomed = bridge_process(STORYBRIDGE_WATCH_LEASE_SECONDS="20")
    survivor = bridge_process()
    await request_answered(nc, f"$SRV.PING.{SERVICE_NAME}", b"", timeout=5)

    async def both_hold_shards() -> dict[str, Any] | None:
        doc = await fleet(nc)
        alive = [r for r in doc["replicas"] if r["alive"] and r["shards"]]
        return doc if len(alive) == 2 and not doc["shards"]["unowned"] else None

    before = await until(both_hold_shards, limit=60)
    held = {r["id"]: r["shards"] for r in before["replicas"] if r["alive"]}
    doomed.kill()

    async def orphaned() -> dict[str, Any] | None:
        doc = await fleet(nc)
        dead = [r for r in doc["replicas"] if not r["alive"]]
        return doc if dead and doc["shards"]["unowned"] else None

    gap = await until(orphaned, limit=60, every=0.2)
    dead_id = next(r["id"] for r in gap["replicas"] if not r["alive"])
    assert set(gap["shards"]["unowned"]) <= set(held[dead_id])
    assert gap["shards"]["owned"] == SHARDS - len(gap["shards"]["unowned"])
    console = Console(record=True, width=200)
    console.print(render(gap))  # what `storybridge status` prints for this very answer
    shown = console.export_text()
    assert "unowned" in shown and str(gap["shards"]["unowned"][0]) in shown

    async def taken_over() -> dict[str, Any] | None:
        doc = await fleet(nc)
        return doc if not doc["shards"]["unowned"] else None

    after = await until(taken_over, limit=60)
    alive = [r for r in after["replicas"] if r["alive"]]
    assert len(alive) == 1 and len(alive[0]["shards"]) == SHARDS
    assert next(r for r in after["replicas"] if r["id"] == dead_id)["alive"] is False
    assert survivor.proc is not None and survivor.proc.poll() is None


async def test_a_source_that_cannot_be_read_is_named_and_the_rest_is_answered(
    start_bridge: StartBridge, nc: NatsClient
) -> None:
    """The dead-letter stream gone: admin.status still answers, its deadLetters section is null
    and named in `errors` (not shown as "0 dead letters"), every other section is read, and
    `storybridge status` says what it could not read."""
    await start_bridge()
    await request_answered(nc, f"$SRV.PING.{SERVICE_NAME}", b"", timeout=5)
    assert (await fleet(nc))["errors"] == {}
    await nc.jetstream().delete_stream(DEAD_LETTERS_STREAM)

    doc = await fleet(nc)
    assert doc["deadLetters"] is None
    assert set(doc["errors"]) == {"deadLetters"}
    assert doc["commands"] is not None and doc["circuits"] is not None
    assert doc["shards"]["total"] == SHARDS and any(r["alive"] for r in doc["replicas"])
    console = Console(record=True, width=200)
    console.print(render(doc))
    shown = console.export_text()
    assert "Not read" in shown and "deadLetters" in shown and "not read:" in shown
