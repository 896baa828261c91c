"""The capability-test kit: what every provider promises alike, asked of each through a profile.

A `Profile` says, for one provider, how to make a command that starts a watch, which events prove
the watch, how to count the command's effect at that provider's sandbox, which account-level fault
opens its circuit, and how to cut a call short for a crash. The shared tests (tests/capabilities/
test_*.py) take a `World` (one bridge with every provider on, each sandbox over real HTTP, on a
manual clock so a watched resource waits mid-flight until the test moves it) and a profile.

Story's and Syllaby's profiles are in tests/capabilities/profiles.py (their packages are the core).
Any other provider ships its own, as `<its package>.profile:PROFILE` beside the module its entry
point names (tests/plugins/storybridge_echo/profile.py): joining the shared tests is adding that
module and the provider's name to `PROVIDERS`, with no edit to bridge/, handlers/ or schemas/.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from typing import Any

from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg

from bridge import plugins
from bridge.runtime import Bridge
from tests.fixtures.bridge import SUBJECTS, Outcomes, Recorder, send
from tests.fixtures.syllaby_bridge import StartSyllabyBridge

PROVIDERS = ["story", "syllaby", "echo"]


@dataclass
class World:
    """One test's real parts: NATS, every provider's sandbox (and its raw-HTTP helper), a bridge."""

    nc: NatsClient
    outcomes: Outcomes
    events: Recorder  # every {p}.evt.> message since the world was made
    sandboxes: dict[str, Any]
    apis: dict[str, Any]
    secrets: dict[str, str]  # each provider's credential, for the faults that revoke it
    start: StartSyllabyBridge
    bridge: Bridge | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    async def start_bridge(self, **overrides: Any) -> Bridge:
        self.bridge = await self.start(**overrides)
        return self.bridge


class Profile:
    """One provider's answers to the shared tests. Subclasses fill every attribute and method."""

    name: str
    command: str  # a create command whose handler starts a watch
    event_prefix: str  # `{p}.evt.<event_prefix><status>` are the events of that watch
    final_status: str  # the watch's last status once `finish` moved the sandbox on
    account_code: str  # the error code of the account-level fault, circuit open
    probe_path: str  # what the circuit's probe asks while open (request-log path)
    idempotent: (
        bool  # the API takes an Idempotency-Key: a re-send is answered with the first effect
    )

    def setup(self, world: World) -> None:
        """Anything the world needs for this provider before a bridge starts."""

    def prepare(self, world: World, tag: str) -> dict[str, Any]:
        """A payload for `command`; anything it needs upstream is made over raw HTTP now."""
        raise NotImplementedError

    def created_id(self, payload: dict[str, Any], outcome: dict[str, Any]) -> str:
        raise NotImplementedError

    def finish(self, world: World) -> None:
        """Move the sandbox's clock so a watched resource reaches `final_status`."""
        raise NotImplementedError

    def effects(self, world: World, payload: dict[str, Any]) -> int:
        """How many times `payload`'s command took effect at the sandbox (read from its state)."""
        raise NotImplementedError

    def check_resends(self, world: World, payload: dict[str, Any], sends: int) -> None:
        """What this provider promises of `sends` sends of one commandId beyond a single effect
        (how many reached the API, under which Idempotency-Key)."""

    def break_account(self, world: World) -> None:
        raise NotImplementedError

    def mend_account(self, world: World) -> None:
        raise NotImplementedError

    def crash_fault(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A sandbox fault rule that applies the command's POST and then holds its answer."""
        raise NotImplementedError

    def check_crash_outcome(self, outcome: dict[str, Any]) -> None:
        """A command re-sent after a crash: with an Idempotency-Key the API replays its first
        effect; a provider without one says otherwise (its profile overrides this)."""
        assert outcome["ok"] is True, outcome
        assert outcome["replayed"] is True

    def process_env(self, world: World) -> dict[str, str]:
        """Environment for a `storybridge run` child process that serves this provider."""
        return {}

    def sandbox(self, world: World) -> Any:
        return world.sandboxes[self.name]

    # -- shared helpers ------------------------------------------------------------------------

    def events_of(self, world: World, resource_id: str) -> list[tuple[str, dict[str, Any]]]:
        """(status, event) of every event of this provider's watch on `resource_id`."""
        head = SUBJECTS.event(self.event_prefix)
        out = []
        for msg in world.events.messages:
            if not msg.subject.startswith(head):
                continue
            event = json.loads(msg.data)
            if str(event["data"].get("id")) == resource_id:
                out.append((msg.subject.removeprefix(head), event))
        return out

    async def make(self, world: World, path: str, tag: str) -> tuple[dict[str, Any], str]:
        """Send a fresh `command` by `path`; assert it succeeded; (payload, resource id)."""
        payload = self.prepare(world, tag)
        outcome = await send(world.nc, world.outcomes, path, self.command, payload)
        assert outcome["ok"] is True, (self.name, outcome)
        return payload, self.created_id(payload, outcome)


def profile_for(name: str) -> Profile:
    """The profile of an installed provider: bundled ones here, any other from its own package."""
    from tests.capabilities.profiles import BUNDLED

    if name in BUNDLED:
        return BUNDLED[name]
    found = {item.name: item for item in plugins.installed()}
    assert name in found, f"provider {name!r} is not installed"
    package = found[name].entry_point.split(":", 1)[0].rsplit(".", 1)[0]
    profile: Profile = importlib.import_module(f"{package}.profile").PROFILE
    return profile


def statuses(events: list[tuple[str, dict[str, Any]]]) -> list[str]:
    return [status for status, _ in events]


def of_subject(messages: list[Msg], suffix: str) -> list[dict[str, Any]]:
    subject = SUBJECTS.event(suffix)
    return [json.loads(m.data) for m in messages if m.subject == subject]
