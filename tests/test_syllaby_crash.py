"""kill -9 while Syllaby holds a call that already took effect: reconciled, or honestly unknown.

The sandbox applies the POST, then holds its answer back past the request timeout; the bridge is
SIGKILLed while it waits. The replacement takes the unacked command over, finds the ledger entry
"started" with no outcome, and never sends it blindly again. A command Syllaby's state cannot
reconcile (storyboard.generate) is answered `outcome_unknown`: tests/capabilities/test_crash.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from tests.fixtures.bridge import SUBJECTS, Outcomes
from tests.fixtures.syllaby_sandbox import SyllabyApi
from tests.fixtures.waiting import until

pytestmark = pytest.mark.slow


def _env(syllaby_sandbox: Any, token: str) -> dict[str, str]:
    return {
        "SYLLABY_API_TOKEN": token,
        "SYLLABY_BASE_URL": syllaby_sandbox.base_url,
        "STORYBRIDGE_SYLLABY_RATE_LIMIT_PER_MINUTE": "6000",
        "STORYBRIDGE_LEDGER_LEASE_SECONDS": "3",
        "STORYBRIDGE_REQUEST_TIMEOUT_SECONDS": "20",
    }


def _board(api: SyllabyApi, board_id: int) -> dict[str, Any]:
    return next(b for b in api.state()["storyboards"] if b["id"] == board_id)


async def test_render_killed_mid_call_is_reconciled_after_restart(
    bridge_process: Any,
    nc: NatsClient,
    outcomes: Outcomes,
    syllaby_api: SyllabyApi,
    syllaby_sandbox: Any,
    syllaby_token: str,
) -> None:
    """One render exists; the outcome is ok, replayed and reconciled, found by reading the
    storyboard; the token is in no log line."""
    board = syllaby_api.with_clips()
    syllaby_sandbox.control.put(
        "/faults",
        json=[
            {
                "path": f"/text-to-scene/{board['id']}/render",
                "method": "POST",
                "respond_latency_ms": 60_000,
                "times": 1,
            }
        ],
    )
    env = _env(syllaby_sandbox, syllaby_token)
    first = bridge_process(**env)
    body = {"storyboard_id": board["id"], "commandId": "render-crash"}
    await nc.jetstream().publish(
        SUBJECTS.command("syllaby.storyboard.render"), json.dumps(body).encode()
    )
    await until(lambda: _board(syllaby_api, board["id"])["renders"] == 1)  # the effect happened
    first.kill()

    second = bridge_process(**env)
    outcome = (await outcomes.wait_for("render-crash", timeout=60))[-1]
    assert outcome["ok"] is True, outcome
    assert outcome["replayed"] is True and outcome["reconciled"] is True
    assert outcome["result"]["data"]["id"] == board["id"]
    assert _board(syllaby_api, board["id"])["renders"] == 1
    charges = syllaby_api.state()["account"]["charges"]
    assert [c["action"] for c in charges].count("render") == 1
    assert len(syllaby_api.logged(f"/text-to-scene/{board['id']}/render", "POST")) == 1
    secret = syllaby_token.split("|", 1)[1]
    for proc in (first, second):
        assert secret not in proc.log_text()
