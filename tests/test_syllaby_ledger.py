"""The command ledger: at most one effect on Syllaby, which takes no Idempotency-Key.

Real nats-server, both sandboxes over HTTP.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from nats.aio.client import Client as NatsClient

from tests.fixtures.bridge import SUBJECTS, Outcomes, send
from tests.fixtures.syllaby_bridge import StartSyllabyBridge
from tests.fixtures.syllaby_sandbox import SyllabyApi


def _posts(api: SyllabyApi, path: str) -> list[dict[str, Any]]:
    return api.logged(path, "POST")


async def test_one_render_for_three_durable_sends_and_one_request(
    start_syllaby_bridge: StartSyllabyBridge,
    nc: NatsClient,
    outcomes: Outcomes,
    syllaby_api: SyllabyApi,
) -> None:
    """The same storyboard.render commandId three times durably and once by request/reply: one
    POST /render at the sandbox, one charge; every later outcome is `replayed: true`."""
    board = syllaby_api.with_clips()
    await start_syllaby_bridge()
    body = {"storyboard_id": board["id"], "commandId": "render-once"}
    first = await send(nc, outcomes, "durable", "syllaby.storyboard.render", body)
    assert first["ok"] is True and first["replayed"] is False, first
    later = [
        await send(nc, outcomes, "durable", "syllaby.storyboard.render", body) for _ in range(2)
    ]
    later.append(await send(nc, outcomes, "request", "syllaby.storyboard.render", body))

    assert all(o["ok"] is True and o["replayed"] is True for o in later), later
    assert all(o["result"] == first["result"] and o["status"] == 202 for o in later)
    path = f"/text-to-scene/{board['id']}/render"
    assert len(_posts(syllaby_api, path)) == 1
    charges = syllaby_api.state()["account"]["charges"]
    assert [c["action"] for c in charges].count("render") == 1


async def test_same_command_id_with_another_body_is_invalid(
    start_syllaby_bridge: StartSyllabyBridge,
    nc: NatsClient,
    outcomes: Outcomes,
    syllaby_api: SyllabyApi,
) -> None:
    """A commandId names one request: reused for another, it is refused and nothing is sent."""
    await start_syllaby_bridge()
    first = await send(
        nc,
        outcomes,
        "request",
        "syllaby.storyboard.create",
        {"title": "one", "mode": "wizard", "commandId": "reused"},
    )
    assert first["ok"] is True
    for path in ("request", "durable"):
        other = await send(
            nc,
            outcomes,
            path,
            "syllaby.storyboard.create",
            {"title": "two", "mode": "wizard", "commandId": "reused"},
        )
        assert other["ok"] is False
        assert other["error"]["code"] == "invalid_command"
        assert other["error"]["field"] == "commandId"
    assert len(_posts(syllaby_api, "/text-to-scene")) == 1


async def test_concurrent_duplicates_wait_for_the_first_and_replay_it(
    start_syllaby_bridge: StartSyllabyBridge,
    nc: NatsClient,
    outcomes: Outcomes,
    syllaby_api: SyllabyApi,
    syllaby_sandbox: Any,
) -> None:
    """While the first attempt is still at the API (held), a duplicate waits for its outcome
    rather than sending again or guessing."""
    await start_syllaby_bridge()
    syllaby_sandbox.control.put(
        "/faults",
        json=[{"path": "/text-to-scene", "method": "POST", "respond_latency_ms": 1500, "times": 1}],
    )
    body = {"title": "held", "mode": "manual", "commandId": "dup-1"}
    data = json.dumps(body).encode()
    replies = await asyncio.gather(
        *(
            nc.request(SUBJECTS.request("syllaby.storyboard.create"), data, timeout=30)
            for _ in range(3)
        )
    )
    docs = [json.loads(r.data) for r in replies]
    assert all(d["ok"] for d in docs), docs
    assert sorted(d["replayed"] for d in docs) == [False, True, True]
    assert len({d["result"]["data"]["id"] for d in docs}) == 1
    assert len(_posts(syllaby_api, "/text-to-scene")) == 1


async def test_a_request_that_never_left_is_sent_again(
    start_syllaby_bridge: StartSyllabyBridge,
    nc: NatsClient,
    outcomes: Outcomes,
    syllaby_api: SyllabyApi,
    syllaby_sandbox: Any,
) -> None:
    """A 429 is refused before anything runs: the ledger entry is released and the durable
    command's next try is sent (and succeeds), one storyboard in the end."""
    await start_syllaby_bridge(retry_budget_seconds=0.5)
    syllaby_sandbox.control.put(
        "/faults",
        json=[
            {
                "path": "/text-to-scene",
                "method": "POST",
                "storm_429": True,
                "retry_after": 2,
                "times": 1,
            }
        ],
    )
    body = {"title": "after 429", "mode": "wizard", "commandId": "limited-1"}
    request = await send(nc, outcomes, "request", "syllaby.storyboard.create", body)
    assert request["ok"] is False and request["error"]["code"] == "rate_limited"
    assert request["error"]["retryable"] is True
    # No pause here: the 429 blocked Syllaby's budget for Retry-After, so this send waits in it.
    again = await send(nc, outcomes, "request", "syllaby.storyboard.create", body)
    assert again["ok"] is True and again["replayed"] is False, again
    posts = _posts(syllaby_api, "/text-to-scene")
    assert [p["status"] for p in posts] == [429, 201]


async def test_a_render_whose_answer_timed_out_is_reconciled_not_resent(
    start_syllaby_bridge: StartSyllabyBridge,
    nc: NatsClient,
    outcomes: Outcomes,
    syllaby_api: SyllabyApi,
    syllaby_sandbox: Any,
) -> None:
    """The render took effect but its answer never came in time: the caller hears
    `upstream_unavailable` (retryable); the retry reads the storyboard instead of rendering
    again, and answers ok, reconciled."""
    board = syllaby_api.with_clips()
    await start_syllaby_bridge(request_timeout_seconds=0.5)
    path = f"/text-to-scene/{board['id']}/render"
    syllaby_sandbox.control.put(
        "/faults", json=[{"path": path, "method": "POST", "respond_latency_ms": 3000, "times": 1}]
    )
    body = {"storyboard_id": board["id"], "commandId": "render-timeout"}
    first = await send(nc, outcomes, "request", "syllaby.storyboard.render", body)
    assert first["ok"] is False and first["error"]["code"] == "upstream_unavailable"
    assert first["error"]["retryable"] is True
    again = await send(nc, outcomes, "request", "syllaby.storyboard.render", body)
    assert again["ok"] is True and again["reconciled"] is True and again["replayed"] is True
    assert len(_posts(syllaby_api, path)) == 1
    third = await send(nc, outcomes, "request", "syllaby.storyboard.render", body)
    assert third["ok"] is True and third["replayed"] is True  # now answered from the ledger


async def test_a_timed_out_create_is_outcome_unknown_and_stays_so(
    start_syllaby_bridge: StartSyllabyBridge,
    nc: NatsClient,
    outcomes: Outcomes,
    syllaby_api: SyllabyApi,
    syllaby_sandbox: Any,
) -> None:
    """Nothing tells whether a create arrived: the retry is `outcome_unknown`, not a second
    storyboard, and so is every later repeat."""
    await start_syllaby_bridge(request_timeout_seconds=0.5)
    syllaby_sandbox.control.put(
        "/faults",
        json=[{"path": "/text-to-scene", "method": "POST", "respond_latency_ms": 3000, "times": 1}],
    )
    body = {"title": "lost", "mode": "wizard", "commandId": "create-timeout"}
    first = await send(nc, outcomes, "request", "syllaby.storyboard.create", body)
    assert first["error"]["code"] == "upstream_unavailable"
    for _ in range(2):
        later = await send(nc, outcomes, "request", "syllaby.storyboard.create", body)
        assert later["ok"] is False
        assert later["error"]["code"] == "outcome_unknown"
        assert later["error"]["retryable"] is False
        assert later["error"]["details"]["ledger"]["commandId"] == "create-timeout"
    assert len(_posts(syllaby_api, "/text-to-scene")) == 1


async def test_two_replicas_racing_one_command_id_send_it_once(
    start_syllaby_bridge: StartSyllabyBridge,
    nc: NatsClient,
    outcomes: Outcomes,
    syllaby_api: SyllabyApi,
    syllaby_sandbox: Any,
) -> None:
    """The ledger is shared in KV: replicas answering the same render at once send one POST."""
    board = syllaby_api.with_clips()
    await start_syllaby_bridge()
    await start_syllaby_bridge()
    path = f"/text-to-scene/{board['id']}/render"
    syllaby_sandbox.control.put(
        "/faults", json=[{"path": path, "method": "POST", "respond_latency_ms": 800, "times": 1}]
    )
    data = json.dumps({"storyboard_id": board["id"], "commandId": "raced"}).encode()
    subject = SUBJECTS.request("syllaby.storyboard.render")
    replies = await asyncio.gather(*(nc.request(subject, data, timeout=30) for _ in range(6)))
    docs = [json.loads(r.data) for r in replies]
    assert all(d["ok"] for d in docs), docs
    assert sum(not d["replayed"] for d in docs) == 1
    assert len(_posts(syllaby_api, path)) == 1
