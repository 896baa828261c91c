"""The metrics of isolation (issue 22, point 5): parked commands by reason and provider, how many
wait now and the oldest one's age, per-route in-flight. Real nats-server, sandbox over HTTP."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from prometheus_client.parser import text_string_to_metric_families

from bridge.nats.embedded import EmbeddedNats
from bridge.ops.metrics import Metrics
from bridge.runtime import Bridge
from tests.fixtures.bridge import SUBJECTS, bridge_settings
from tests.fixtures.waiting import until


def _samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def _value(metrics: Metrics, name: str, **labels: str) -> float:
    return _samples(metrics).get((name, tuple(sorted(labels.items()))), 0.0)


async def test_parked_commands_are_counted_by_reason_and_provider_with_their_age(
    nats_server: EmbeddedNats, sandbox: Any, sandbox_key: str, tmp_path: Path, nc: NatsClient
) -> None:
    metrics = Metrics(process=False)
    settings = bridge_settings(
        nats_server.url,
        sandbox.base_url,
        sandbox_key,
        tmp_path / "b",
        command_retry_base_seconds=30.0,
        command_retry_max_seconds=60.0,
    )
    bridge = Bridge(settings, metrics=metrics)
    await bridge.start()
    try:
        sandbox.control.put(
            "/faults", json=[{"path": "/story-projects", "method": "POST", "status": 503}]
        )
        js = nc.jetstream()
        for i in range(5):
            body = {"name": f"p{i}", "commandId": f"parked-{i}"}
            await js.publish(SUBJECTS.command("project.create"), json.dumps(body).encode())

        def parked() -> bool:
            return _value(metrics, "storybridge_commands_parked_now", provider="story") == 5

        await until(parked, limit=30)
        retrying = _value(
            metrics, "storybridge_commands_parked_total", reason="retrying", provider="story"
        )
        held = _value(
            metrics, "storybridge_commands_parked_total", reason="route_failing", provider="story"
        )
        assert held >= 1  # after the first 503 the route is probed; its commands wait for it
        assert retrying + held >= 5
        assert _value(metrics, "storybridge_commands_parked_oldest_seconds") > 0
        assert _value(metrics, "storybridge_commands_parked_now", provider="syllaby") == 0
    finally:
        await bridge.stop()


async def test_commands_at_the_api_are_shown_per_route(
    nats_server: EmbeddedNats,
    sandbox: Any,
    sandbox_key: str,
    tmp_path: Path,
    nc: NatsClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("bridge.runtime.GAUGE_REFRESH_SECONDS", 0.2)
    metrics = Metrics(process=False)
    settings = bridge_settings(
        nats_server.url, sandbox.base_url, sandbox_key, tmp_path / "b", request_timeout_seconds=20
    )
    bridge = Bridge(settings, metrics=metrics)
    await bridge.start()
    try:
        sandbox.control.put(
            "/faults", json=[{"path": "/story-projects", "method": "POST", "latency_ms": 3000}]
        )
        js = nc.jetstream()
        for i in range(3):
            body = {"name": f"s{i}", "commandId": f"slow-{i}"}
            await js.publish(SUBJECTS.command("project.create"), json.dumps(body).encode())

        def at_api(n: float) -> bool:
            route = "POST /story-projects"
            return _value(metrics, "storybridge_route_in_flight", route=route) == n

        await until(lambda: at_api(3), limit=10)
        await until(lambda: at_api(0), limit=20)  # back to 0 once they are answered
    finally:
        await bridge.stop()
