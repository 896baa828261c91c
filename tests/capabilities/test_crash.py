"""kill -9 of a bridge process between the API's effect and the command's ack: the replacement
takes the command over and it has one effect, answered as the provider can honestly answer it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.capabilities.kit import Profile, World
from tests.fixtures.bridge import SUBJECTS
from tests.fixtures.waiting import until

pytestmark = pytest.mark.slow


async def test_a_command_killed_mid_call_has_one_effect_after_restart(
    provider: Profile, world: World, bridge_process: Any
) -> None:
    payload = {**provider.prepare(world, "crash-safe"), "commandId": f"crash-{provider.name}"}
    # The sandbox does the work, then holds the answer back: the bridge dies waiting for it.
    fault = provider.crash_fault(payload)
    provider.sandbox(world).control.put("/faults", json=[fault]).raise_for_status()
    env = provider.process_env(world)
    first = bridge_process(**env)
    await world.nc.jetstream().publish(
        SUBJECTS.command(provider.command), json.dumps(payload).encode()
    )
    await until(lambda: provider.effects(world, payload) == 1)  # the effect happened upstream
    first.kill()

    bridge_process(**env)  # the replacement takes the unacked command
    outcome = (await world.outcomes.wait_for(payload["commandId"], timeout=60))[-1]
    provider.check_crash_outcome(outcome)
    assert provider.effects(world, payload) == 1
    provider.check_resends(
        world, payload, sends=2
    )  # the killed bridge's send and the replacement's
