"""The Story API's circuit as readiness sees it. The circuit's life (opened once by a revoked key,
the API left alone but for the probe, watches kept, commands held, one recovery) is shared by every
provider: tests/capabilities/test_circuit.py."""

from __future__ import annotations

from typing import Any

from nats.aio.client import Client as NatsClient

from tests.fixtures.bridge import Outcomes, StartBridge, send
from tests.test_commands import no_secret_in_logs

__all__ = ["no_secret_in_logs"]  # an autouse guard: no scenario here logs the key's secret


def _key_state(sandbox: Any, key: str, state: str) -> None:
    sandbox.control.put("/keys/state", json={"key": key, "state": state}).raise_for_status()


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
