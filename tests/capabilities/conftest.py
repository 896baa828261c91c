"""One world per test: every provider's sandbox on a manual clock, the Echo provider installed,
and a bridge with all three on (started by the test, with the settings it needs)."""

from __future__ import annotations

from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from bridge.sandboxes.story import StorySandboxConfig
from bridge.sandboxes.syllaby import SyllabySandboxConfig
from tests.capabilities.kit import PROVIDERS, Profile, World, profile_for
from tests.fixtures.bridge import SUBJECTS, Outcomes, Recorder
from tests.fixtures.sandbox import TEST_SPEED, SandboxApi
from tests.fixtures.syllaby_bridge import StartSyllabyBridge
from tests.fixtures.syllaby_sandbox import SyllabyApi


@pytest.fixture
def sandbox_config() -> StorySandboxConfig:
    # Manual clocks: a watched resource is surely mid-flight until the test moves it on.
    return StorySandboxConfig(speed=TEST_SPEED, manual_clock=True, rate_limit_per_minute=100_000)


@pytest.fixture
def syllaby_sandbox_config() -> SyllabySandboxConfig:
    return SyllabySandboxConfig(manual_clock=True, rate_limit_per_minute=100_000)


@pytest.fixture
async def world(
    nc: NatsClient,
    outcomes: Outcomes,
    sandbox: Any,
    sandbox_key: str,
    sandbox_api: SandboxApi,
    syllaby_sandbox: Any,
    syllaby_token: str,
    syllaby_api: SyllabyApi,
    echo_sandbox: Any,
    start_syllaby_bridge: StartSyllabyBridge,
    monkeypatch: pytest.MonkeyPatch,
) -> World:
    monkeypatch.setenv("STORYBRIDGE_ECHO_BASE_URL", echo_sandbox.base_url)
    events = Recorder()
    await nc.subscribe(SUBJECTS.event(">"), cb=events.on_msg)
    made = World(
        nc=nc,
        outcomes=outcomes,
        events=events,
        sandboxes={"story": sandbox, "syllaby": syllaby_sandbox, "echo": echo_sandbox},
        apis={"story": sandbox_api, "syllaby": syllaby_api},
        secrets={"story": sandbox_key, "syllaby": syllaby_token},
        start=start_syllaby_bridge,
    )
    for name in made.sandboxes:
        profile_for(name).setup(made)
    return made


@pytest.fixture(params=PROVIDERS)
def provider(request: pytest.FixtureRequest, echo_installed: None) -> Profile:
    return profile_for(str(request.param))
