"""Syllaby's 429: its own budget waits (Retry-After, X-RateLimit-Reset as a Unix timestamp), and
nothing of the Story API's waits with it."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from nats.aio.client import Client as NatsClient

from bridge.providers.syllaby.errors import from_response, rate_wait
from bridge.sandboxes.syllaby import SyllabySandboxConfig
from tests.fixtures.bridge import Outcomes, send
from tests.fixtures.requestlog import requests_of
from tests.fixtures.syllaby_bridge import StartSyllabyBridge
from tests.fixtures.syllaby_sandbox import PROMPT, any_token
from tests.fixtures.waiting import until

RETRY_AFTER = 2
IN_FLIGHT = 0.05


@pytest.fixture
def syllaby_sandbox_config() -> SyllabySandboxConfig:
    # Real-time generation (10 s): the storyboard's watch keeps polling through the whole test.
    return SyllabySandboxConfig(speed=1.0, rate_limit_per_minute=100_000)


def _log(server: Any) -> list[dict[str, Any]]:
    return requests_of(server)


@pytest.mark.slow
async def test_a_429_stops_syllaby_for_its_wait_and_not_the_story_api(
    start_syllaby_bridge: StartSyllabyBridge,
    nc: NatsClient,
    outcomes: Outcomes,
    syllaby_sandbox: Any,
    sandbox: Any,
) -> None:
    """After the 429 no Syllaby request (command or poll) leaves before Retry-After has passed; a
    Story API command sent meanwhile is answered during that wait; the held Syllaby read then
    succeeds (an epoch reset misread as seconds would have blocked it for the 600 s cap, past the
    retry budget)."""
    async with httpx.AsyncClient(
        base_url=syllaby_sandbox.base_url, headers={"Authorization": f"Bearer {any_token()}"}
    ) as other:
        created = await other.post("/text-to-scene", json={"title": "t", "mode": "wizard"})
        board_id = created.json()["data"]["id"]
        await other.post(f"/text-to-scene/{board_id}/prompt", json=PROMPT)
    await start_syllaby_bridge(retry_budget_seconds=30.0)
    watched = await send(
        nc,
        outcomes,
        "request",
        "watch.add",
        {"provider": "syllaby", "resource": "storyboard", "id": board_id},
    )
    assert watched["ok"] is True  # its polls would run every few hundredths of a second
    path = f"/text-to-scene/{board_id}"
    syllaby_sandbox.control.put(
        "/faults",
        json=[
            {
                "path": path,
                "method": "GET",
                "storm_429": True,
                "retry_after": RETRY_AFTER,
                "times": 1,
            }
        ],
    )
    read = asyncio.create_task(
        send(nc, outcomes, "request", "syllaby.storyboard.get", {"storyboard_id": board_id})
    )
    limited = await until(lambda: [e for e in _log(syllaby_sandbox) if e["status"] == 429])
    # Meanwhile the Story API is served at once, from its own budget.
    story = await send(nc, outcomes, "request", "project.create", {"name": "not delayed"})
    assert story["ok"] is True
    outcome = await read
    assert outcome["ok"] is True, outcome

    at_429 = limited[0]["time"]
    # A request already on the wire when the 429 came back may land just after it.
    after = [e for e in _log(syllaby_sandbox) if e["time"] > at_429 + IN_FLIGHT]
    assert after, "the read was retried"
    assert min(e["time"] for e in after) >= at_429 + RETRY_AFTER - 0.05
    story_at = next(e["time"] for e in _log(sandbox) if e["path"] == "/story-projects")
    assert at_429 < story_at < min(e["time"] for e in after)


def test_the_wait_is_the_later_of_retry_after_and_the_epoch_reset() -> None:
    """`X-RateLimit-Reset` is a Unix time: 1,700,000,010 at 1,700,000,000 means 10 s, not 54 years."""
    now = 1_700_000_000.0
    assert rate_wait({"Retry-After": "3", "X-RateLimit-Reset": str(int(now) + 10)}, now=now) == 10
    assert rate_wait({"Retry-After": "12", "X-RateLimit-Reset": str(int(now) + 10)}, now=now) == 12
    assert rate_wait({"X-RateLimit-Reset": str(int(now) - 5)}, now=now) == 0.0
    assert rate_wait({}, now=now) is None


def test_429_maps_to_rate_limited_which_never_took_effect() -> None:
    err = from_response(429, {"message": "Too Many Attempts.", "status": 429}, {"Retry-After": "4"})
    assert err.code == "rate_limited" and err.retryable and err.unapplied
    assert err.retry_after == 4
    assert err.details == {"message": "Too Many Attempts.", "status": 429}
