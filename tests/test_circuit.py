"""Account-level failures open a circuit (CONTRACT.md, additions of 2026-12-01): told once, the API
left alone, watches kept, and everything resumes when the key works again."""

from __future__ import annotations

import json
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from tests.fixtures.bridge import SUBJECTS, Outcomes, Recorder, StartBridge, create_plan, send
from tests.fixtures.requestlog import requests_of
from tests.fixtures.waiting import until
from tests.test_commands import no_secret_in_logs

__all__ = ["no_secret_in_logs"]  # an autouse guard: no scenario here logs the key's secret


def _requests(sandbox: Any) -> list[dict[str, Any]]:
    return requests_of(sandbox)


def _key_state(sandbox: Any, key: str, state: str) -> None:
    sandbox.control.put("/keys/state", json={"key": key, "state": state}).raise_for_status()


@pytest.mark.slow
async def test_a_revoked_key_opens_one_circuit_and_a_valid_key_closes_it(
    start_bridge: StartBridge,
    nc: NatsClient,
    outcomes: Outcomes,
    sandbox: Any,
    sandbox_key: str,
) -> None:
    """Key revoked while a plan is watched: one bridge.degraded, no watch stalls, request/reply is
    answered at once with the key's code (no API call), a durable command is held, and only the
    probe reaches the API. Key valid again: one bridge.recovered, the held command succeeds and the
    plan's watch goes on to requires_approval."""
    bridge = await start_bridge(circuit_probe_seconds=0.5, stall_after_failures=2)
    recorder = Recorder()
    await nc.subscribe(SUBJECTS.event(">"), cb=recorder.on_msg)
    project = (await send(nc, outcomes, "request", "project.create", {"name": "c"}))["result"]
    plan = (await create_plan(nc, outcomes, project["project"]["id"]))["result"]["plan"]
    assert await recorder.wait_for(lambda: bool(recorder.on("plan.")))

    _key_state(sandbox, sandbox_key, "revoked")
    assert await recorder.wait_for(lambda: bool(recorder.on("bridge.degraded")))
    degraded = json.loads(recorder.on("bridge.degraded")[0].data)
    assert degraded["type"] == "studio.sleeperhit.story.bridge.degraded"
    assert degraded["data"]["provider"] == "story"
    assert degraded["data"]["code"] == "api_key_revoked"
    assert degraded["data"]["since"].endswith("Z")
    assert bridge.running["story"].circuit.is_open

    before = len(_requests(sandbox))
    answer = await send(nc, outcomes, "request", "project.create", {"name": "refused"})
    assert answer["ok"] is False
    assert answer["error"]["code"] == "api_key_revoked"
    assert answer["error"]["retryable"] is True
    await nc.jetstream().publish(
        SUBJECTS.command("project.create"), b'{"name": "held", "commandId": "held-1"}'
    )
    held = await outcomes.wait_for("held-1", kinds=("retrying",))
    assert held[0]["error"]["code"] == "api_key_revoked"

    def probes() -> list[dict[str, Any]]:
        return [e for e in _requests(sandbox)[before:] if e["path"] == "/capabilities"]

    await until(lambda: len(probes()) >= 3)
    while_open = _requests(sandbox)[before:]
    # Only probes reach the API (a poll or two already in flight when it opened may land too).
    assert len(while_open) <= len(probes()) + 2, [(e["method"], e["path"]) for e in while_open]
    assert not [e for e in while_open if e["path"] == "/story-projects"]

    _key_state(sandbox, sandbox_key, "active")
    assert await recorder.wait_for(lambda: bool(recorder.on("bridge.recovered")))
    assert (await outcomes.wait_for("held-1"))[-1]["ok"] is True
    plan_id = plan["id"]
    assert await recorder.wait_for(
        lambda: any(
            json.loads(m.data)["data"]["id"] == plan_id
            for m in recorder.on("plan.requires_approval")
        )
    )
    assert len(recorder.on("bridge.degraded")) == 1
    assert len(recorder.on("bridge.recovered")) == 1
    assert recorder.on("watch.stalled") == []
    assert not bridge.running["story"].circuit.is_open


async def test_readiness_reports_an_open_circuit_without_failing(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes, sandbox: Any, sandbox_key: str
) -> None:
    """Every replica shares the key, so an open circuit is reported in /readyz, not made a 503."""
    bridge = await start_bridge(circuit_probe_seconds=30)
    _key_state(sandbox, sandbox_key, "expired")
    answer = await send(nc, outcomes, "request", "project.create", {"name": "x"})
    assert answer["error"]["code"] == "api_key_expired"
    ok, checks = await bridge.ready()
    assert ok is True
    assert checks["circuits"] == {"story": "api_key_expired"}
