"""Every ledgered outcome is true (issue 21, points 2 and 3).

Real nats-server, both sandboxes over HTTP: the ledger decides before any call, a stop during a
rate wait never turns into `outcome_unknown`, reconcile needs evidence, and a Story command whose
earlier attempt is still running is waited out, never failed.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from bridge.ledger import LedgerUnavailable
from bridge.sandboxes.story import StorySandboxConfig
from handlers.syllaby.reconcile import began
from tests.fixtures.bridge import SUBJECTS, Outcomes, StartBridge, send
from tests.fixtures.sandbox import TEST_SPEED, SandboxApi
from tests.fixtures.syllaby_bridge import StartSyllabyBridge
from tests.fixtures.syllaby_sandbox import SyllabyApi

T0, T1, T2 = "2026-01-01T12:00:01.000000Z", "2026-01-01T12:00:05.000000Z", "2026-01-01T12:00:09Z"


@pytest.fixture
def sandbox_config() -> StorySandboxConfig:
    # The live API's 409 carries no `details.reason` (the seeds document none).
    return StorySandboxConfig(
        speed=TEST_SPEED, rate_limit_per_minute=100_000, conflict_reasons=False
    )


# --- 2. the ledger decides first ---------------------------------------------------------------


@pytest.mark.parametrize("path", ["request", "durable"])
async def test_a_reused_command_id_is_refused_before_the_pre_read(
    path: str,
    start_syllaby_bridge: StartSyllabyBridge,
    nc: NatsClient,
    outcomes: Outcomes,
    syllaby_api: SyllabyApi,
) -> None:
    """A render's commandId sent again for ANOTHER storyboard used to be read first (`GET` of the
    other storyboard) and answered `not_found`; the ledger refuses it before any call."""
    board = syllaby_api.with_clips()
    await start_syllaby_bridge()
    body = {"storyboard_id": board["id"], "commandId": f"render-{path}"}
    first = await send(nc, outcomes, "request", "syllaby.storyboard.render", body)
    assert first["ok"] is True
    other = {"storyboard_id": 999_999, "commandId": f"render-{path}"}
    refused = await send(nc, outcomes, path, "syllaby.storyboard.render", other)
    assert refused["ok"] is False and refused["error"]["code"] == "invalid_command"
    assert refused["error"]["field"] == "commandId"
    assert syllaby_api.logged("/text-to-scene/999999") == []


# --- 3. a stop before sending is not "outcome unknown" -----------------------------------------


async def test_a_stop_during_the_rate_wait_sends_the_command_once_later(
    start_syllaby_bridge: StartSyllabyBridge,
    nc: NatsClient,
    outcomes: Outcomes,
    syllaby_api: SyllabyApi,
) -> None:
    """A durable render waits in Syllaby's budget (2 requests a minute: a read, then the render's
    pre-read) when its replica stops. The claim never left: the next replica renders it, ok, once, instead of
    answering a final `outcome_unknown` after the lease."""
    board = syllaby_api.with_clips()
    first = await start_syllaby_bridge(
        syllaby_rate_limit_per_minute=2, shutdown_grace_seconds=0.5, ledger_lease_seconds=2.0
    )
    read = {"storyboard_id": board["id"]}
    assert (await send(nc, outcomes, "request", "syllaby.storyboard.get", read))["ok"] is True
    body = json.dumps({"storyboard_id": board["id"], "commandId": "render-stop"}).encode()
    await nc.jetstream().publish(SUBJECTS.command("syllaby.storyboard.render"), body)
    path = f"/text-to-scene/{board['id']}"
    for _ in range(200):  # the pre-read spent the budget; the POST now waits in it
        if len(syllaby_api.logged(path, "GET")) == 2:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    assert syllaby_api.logged(f"{path}/render", "POST") == []
    await first.stop()  # what SIGTERM does
    await start_syllaby_bridge()
    [outcome] = await outcomes.wait_for("render-stop", timeout=30)
    assert outcome["ok"] is True and not outcome.get("reconciled"), outcome
    assert len(syllaby_api.logged(f"{path}/render", "POST")) == 1


# --- 3. reconcile is evidence, not hope --------------------------------------------------------


def test_a_generation_already_running_before_the_call_proves_nothing() -> None:
    before = {"status": "generating:prompts", "updated_at": T0}
    now = {"status": "generating:images", "updated_at": T1}
    assert began("syllaby.storyboard.generate", before, now) is False


def test_a_generation_is_proved_by_a_newer_change_from_a_settled_state() -> None:
    before = {"status": "draft", "updated_at": T0}
    assert began(
        "syllaby.storyboard.generate", before, {"status": "generating:prompts", "updated_at": T1}
    )
    assert not began("syllaby.storyboard.generate", before, {"status": "draft", "updated_at": T0})


def test_an_earlier_render_finishing_is_not_ours() -> None:
    """The storyboard was `processing` an earlier render when this one was sent; that render
    finishing (video completed, url set) would look exactly like ours."""
    before = {
        "status": "processing",
        "updated_at": T0,
        "video": {"id": 1, "status": "rendering", "url": None, "updated_at": T0},
    }
    now = {
        "status": "completed",
        "updated_at": T2,
        "video": {"id": 1, "status": "completed", "url": "https://v/1.mp4", "updated_at": T2},
    }
    assert began("syllaby.storyboard.render", before, now) is False


def test_a_render_is_proved_by_a_newer_video_change() -> None:
    """From a never-rendered video (the reference's `status: rendering` quirk) or a finished
    one, a newer video change or the storyboard going `processing` proves the render."""
    quirk = {"id": 1, "status": "rendering", "url": None, "updated_at": T0}
    before = {"status": "ready", "updated_at": T0, "video": quirk}
    rendering = {"status": "processing", "updated_at": T1, "video": {**quirk, "updated_at": T1}}
    assert began("syllaby.storyboard.render", before, rendering)
    unchanged = {"status": "ready", "updated_at": T0, "video": quirk}
    assert not began("syllaby.storyboard.render", before, unchanged)
    stale = {"status": "completed", "updated_at": T0, "video": {**quirk, "url": "u"}}
    assert not began("syllaby.storyboard.render", before, stale)  # no newer timestamp


def test_clips_already_generating_prove_nothing() -> None:
    before = {"scenes": {"1": {"status": "clip:generating", "updated_at": T0}}}
    now = {"scenes": {"1": {"status": "clip:ready", "updated_at": T1}}}
    assert began("syllaby.storyboard.generate_clips", before, now) is False
    settled = {"scenes": {"1": {"status": "clip:ready", "updated_at": T0}}}
    queued = {"scenes": {"1": {"status": "clip:queued", "updated_at": T1}}}
    assert began("syllaby.storyboard.generate_clips", settled, queued) is True


# --- 3. the Story API's 409 for the same body --------------------------------------------------


async def test_a_redelivered_command_waits_out_its_first_attempt(
    start_bridge: StartBridge,
    nc: NatsClient,
    outcomes: Outcomes,
    sandbox: Any,
    sandbox_api: SandboxApi,
) -> None:
    """The first attempt of a project.create is held at the API for 4 s; the same command arrives
    again meanwhile (a re-send by request/reply, then durably: a redelivery, another replica). Its
    409 carries no reason, but the bridge knows the body is the same: request/reply answers
    `retryable: true`, the durable one is retried (`command.retrying`) until it succeeds, and there
    is ONE project; never `ok: false, retryable: false`."""
    await start_bridge(retry_budget_seconds=1.0, command_retry_base_seconds=0.5)
    sandbox.control.put(
        "/faults",
        json=[{"path": "/story-projects", "method": "POST", "hold_ms": 4000, "times": 1}],
    )
    body = {"name": "held once", "commandId": "held-409"}
    first = asyncio.create_task(send(nc, outcomes, "request", "project.create", body, timeout=30))
    await asyncio.sleep(0.5)  # the first attempt is at the API now
    replied = await send(nc, outcomes, "request", "project.create", body, timeout=30)
    assert replied["ok"] is False and replied["error"]["retryable"] is True, replied
    await nc.jetstream().publish(SUBJECTS.command("project.create"), json.dumps(body).encode())
    assert (await first)["ok"] is True
    done = await outcomes.wait_for("held-409", count=3, timeout=30)
    assert done[-1]["ok"] is True and done[-1]["replayed"] is True, done
    assert "retrying" in outcomes.kinds("held-409")
    listed = sandbox_api.get("/story-projects", limit=100).json()["projects"]
    assert [p["name"] for p in listed].count("held once") == 1


# --- review: a claim never marked sent is never settled --------------------------------------


async def test_a_claim_that_cannot_be_marked_sent_is_retryable_and_sent_later(
    start_syllaby_bridge: StartSyllabyBridge,
    nc: NatsClient,
    outcomes: Outcomes,
    syllaby_api: SyllabyApi,
) -> None:
    """The ledger write that marks the claim sent fails once (KV briefly away): nothing is sent,
    the answer is retryable, and the next try renders, once."""
    board = syllaby_api.with_clips()
    bridge = await start_syllaby_bridge()
    assert bridge.ledger is not None
    real = bridge.ledger.mark_sent
    failures = [LedgerUnavailable("ledger claim not marked sent: TimeoutError")]

    async def flaky(claim: Any, target: dict[str, Any]) -> None:
        if failures:
            raise failures.pop()
        await real(claim, target)

    bridge.ledger.mark_sent = flaky  # type: ignore[method-assign]
    body = {"storyboard_id": board["id"], "commandId": "render-unmarked"}
    first = await send(nc, outcomes, "request", "syllaby.storyboard.render", body)
    assert first["ok"] is False and first["error"]["retryable"] is True, first
    path = f"/text-to-scene/{board['id']}/render"
    assert syllaby_api.logged(path, "POST") == []
    again = await send(nc, outcomes, "request", "syllaby.storyboard.render", body)
    assert again["ok"] is True and again["replayed"] is False, again
    assert len(syllaby_api.logged(path, "POST")) == 1


async def test_a_stop_while_waiting_out_a_429_is_not_outcome_unknown(
    start_syllaby_bridge: StartSyllabyBridge,
    nc: NatsClient,
    outcomes: Outcomes,
    syllaby_api: SyllabyApi,
    syllaby_sandbox: Any,
) -> None:
    """The create was answered 429 (nothing ran) and the replica stops while it waits out
    Retry-After: the next replica creates the storyboard, once, instead of `outcome_unknown`."""
    first = await start_syllaby_bridge(
        retry_budget_seconds=30.0, shutdown_grace_seconds=0.5, ledger_lease_seconds=2.0
    )
    syllaby_sandbox.control.put(
        "/faults",
        json=[
            {
                "path": "/text-to-scene",
                "method": "POST",
                "storm_429": True,
                "retry_after": 20,
                "times": 1,
            }
        ],
    )
    body = json.dumps({"title": "after a 429", "mode": "wizard", "commandId": "c-429"})
    await nc.jetstream().publish(SUBJECTS.command("syllaby.storyboard.create"), body.encode())
    for _ in range(200):
        if syllaby_api.logged("/text-to-scene", "POST"):
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    await first.stop()
    await start_syllaby_bridge()
    [outcome] = await outcomes.wait_for("c-429", timeout=40)
    assert outcome["ok"] is True, outcome
    posts = syllaby_api.logged("/text-to-scene", "POST")
    assert [p["status"] for p in posts] == [429, 201]


async def test_an_explicit_null_is_another_body(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes, sandbox_api: SandboxApi
) -> None:
    """`{description: null}` clears a field, `{}` changes nothing: two requests, so one commandId
    cannot name both."""
    project = sandbox_api.project("nulls")
    await start_bridge()
    first = {"projectId": project, "description": None, "commandId": "upd-null"}
    assert (await send(nc, outcomes, "request", "project.update", first))["ok"] is True
    other = {"projectId": project, "commandId": "upd-null"}
    refused = await send(nc, outcomes, "request", "project.update", other)
    assert refused["error"]["code"] == "invalid_command"
    assert refused["error"]["field"] == "commandId"
