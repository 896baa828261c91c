"""Echo's answers to storybridge's shared capability tests (tests/capabilities/kit.py): a provider
outside the core brings its own profile, found beside the module its entry point names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.capabilities.kit import Profile, World
from tests.fixtures.requestlog import requests_of


class EchoProfile(Profile):
    name = "echo"
    command = "echo.thing.create"
    event_prefix = "echo.thing."
    final_status = "ready"
    account_code = "unauthenticated"
    probe_path = "/things/probe"
    idempotent = True

    def _state(self, world: World) -> Any:
        # The sandbox runs in this process: its state is the truth of what was created.
        return self.sandbox(world).state

    def setup(self, world: World) -> None:
        # Things stay `pending` until the test moves the clock (as the other sandboxes' manual clocks).
        self._state(world).clock.freeze()

    def prepare(self, world: World, tag: str) -> dict[str, Any]:
        return {"name": tag}

    def created_id(self, payload: dict[str, Any], outcome: dict[str, Any]) -> str:
        return str(outcome["result"]["id"])

    def finish(self, world: World) -> None:
        self.sandbox(world).control.post("/clock/advance", json={"seconds": 5}).raise_for_status()

    def effects(self, world: World, payload: dict[str, Any]) -> int:
        things = self._state(world).things.values()
        return len([t for t in things if t["name"] == payload["name"]])

    def check_resends(self, world: World, payload: dict[str, Any], sends: int) -> None:
        posts = [e for e in requests_of(self.sandbox(world)) if e["method"] == "POST"]
        assert len(posts) == sends and len({e["idempotencyKey"] for e in posts}) == 1, posts

    def break_account(self, world: World) -> None:
        self.sandbox(world).control.put("/faults", json=[{"status": 401}]).raise_for_status()

    def mend_account(self, world: World) -> None:
        self.sandbox(world).control.delete("/faults").raise_for_status()

    def crash_fault(self, payload: dict[str, Any]) -> dict[str, Any]:
        return {"path": "/things", "method": "POST", "respond_latency_ms": 60_000, "times": 1}

    def process_env(self, world: World) -> dict[str, str]:
        # A child process has Echo installed when the directory holding its dist-info is on its path.
        installed_at = str(Path(__file__).resolve().parent.parent)
        return {
            "STORYBRIDGE_ECHO_BASE_URL": self.sandbox(world).base_url,
            "PYTHONPATH": installed_at,
        }


PROFILE = EchoProfile()
