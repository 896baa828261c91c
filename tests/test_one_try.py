"""A durable attempt is one request (issue 22): the durable schedule is the retry, so a 503 costs
the key one request per attempt, not a whole in-process retry budget; a 429 is still waited out
exactly (its Retry-After, in the shared budget) and sent again. Real nats-server, sandbox over HTTP."""

from __future__ import annotations

from typing import Any

from nats.aio.client import Client as NatsClient

from tests.fixtures.bridge import Outcomes, StartBridge, send
from tests.test_commands import requests_log


def _posts(sandbox: Any) -> list[dict[str, Any]]:
    return [e for e in requests_log(sandbox, "/story-projects") if e["method"] == "POST"]


async def test_a_503_costs_one_request_per_durable_attempt(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes, sandbox: Any
) -> None:
    await start_bridge(retry_budget_seconds=5.0, command_retry_base_seconds=0.5)
    sandbox.control.put(
        "/faults",
        json=[{"path": "/story-projects", "method": "POST", "status": 503, "times": 2}],
    )
    outcome = await send(nc, outcomes, "durable", "project.create", {"name": "x"}, command_id="x")
    assert outcome["ok"] is True
    assert [e["status"] for e in _posts(sandbox)] == [503, 503, 200]
    assert outcomes.kinds("x") == ["retrying", "retrying", "succeeded"]


async def test_a_429_is_waited_out_exactly_and_sent_again_within_the_attempt(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes, sandbox: Any
) -> None:
    await start_bridge(retry_budget_seconds=10.0, command_retry_base_seconds=30.0)
    sandbox.control.put(
        "/faults",
        json=[
            {
                "path": "/story-projects",
                "method": "POST",
                "storm_429": True,
                "retry_after": 2,
                "times": 1,
            }
        ],
    )
    outcome = await send(nc, outcomes, "durable", "project.create", {"name": "y"}, command_id="y")
    assert outcome["ok"] is True
    posts = _posts(sandbox)
    assert [e["status"] for e in posts] == [429, 200]
    assert posts[1]["time"] - posts[0]["time"] >= 2.0  # not before Retry-After
    assert outcomes.kinds("y") == ["succeeded"]  # not parked for the 30 s schedule
