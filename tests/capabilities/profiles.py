"""The profiles of the two bundled providers (their packages are the core, so they live here)."""

from __future__ import annotations

from typing import Any

from tests.capabilities.kit import Profile, World
from tests.fixtures.bridge import PLAN_TARGET
from tests.fixtures.requestlog import requests_of
from tests.fixtures.sandbox import PLAN_DONE
from tests.fixtures.syllaby_sandbox import GENERATED, PROMPT


class StoryProfile(Profile):
    """plan.create: the plan watch runs to requires_approval; the API dedups by Idempotency-Key."""

    name = "story"
    command = "plan.create"
    event_prefix = "plan."
    final_status = "requires_approval"
    account_code = "api_key_revoked"
    probe_path = "/capabilities"
    idempotent = True

    def prepare(self, world: World, tag: str) -> dict[str, Any]:
        project_id = world.apis["story"].project(tag)
        return {
            "projectId": project_id,
            "target": PLAN_TARGET,
            "artifactRequests": [{"type": "table_read"}],
        }

    def created_id(self, payload: dict[str, Any], outcome: dict[str, Any]) -> str:
        return str(outcome["result"]["plan"]["id"])

    def finish(self, world: World) -> None:
        world.apis["story"].advance(PLAN_DONE)

    def _plan_posts(self, world: World, payload: dict[str, Any]) -> list[dict[str, Any]]:
        path = f"/story-projects/{payload['projectId']}/story-plans"
        return [
            e
            for e in requests_of(self.sandbox(world))
            if e["method"] == "POST" and e["path"] == path
        ]

    def effects(self, world: World, payload: dict[str, Any]) -> int:
        api = world.apis["story"]
        plans = api.ok(api.get(f"/story-projects/{payload['projectId']}/story-plans"))["plans"]
        return len(plans)

    def check_resends(self, world: World, payload: dict[str, Any], sends: int) -> None:
        # The bridge keeps no outcome of its own: every send reaches the API under one key,
        # and the API's replay is what makes them one plan.
        posts = self._plan_posts(world, payload)
        assert len(posts) == sends, posts
        assert len({e["idempotencyKey"] for e in posts}) == 1

    def break_account(self, world: World) -> None:
        body = {"key": world.secrets["story"], "state": "revoked"}
        self.sandbox(world).control.put("/keys/state", json=body).raise_for_status()

    def mend_account(self, world: World) -> None:
        body = {"key": world.secrets["story"], "state": "active"}
        self.sandbox(world).control.put("/keys/state", json=body).raise_for_status()

    def crash_fault(self, payload: dict[str, Any]) -> dict[str, Any]:
        path = f"/story-projects/{payload['projectId']}/story-plans"
        return {"path": path, "method": "POST", "respond_latency_ms": 60_000, "times": 1}


class SyllabyProfile(Profile):
    """storyboard.generate: the storyboard watch runs to ready; the ledger stands in for the
    Idempotency-Key Syllaby does not take."""

    name = "syllaby"
    command = "syllaby.storyboard.generate"
    event_prefix = "syllaby.storyboard."
    final_status = "ready"
    account_code = "subscription_required"
    probe_path = "/text-to-scene/0"
    idempotent = False

    def prepare(self, world: World, tag: str) -> dict[str, Any]:
        return {"storyboard_id": world.apis["syllaby"].storyboard(tag), **PROMPT}

    def created_id(self, payload: dict[str, Any], outcome: dict[str, Any]) -> str:
        return str(payload["storyboard_id"])

    def finish(self, world: World) -> None:
        world.apis["syllaby"].advance(GENERATED)

    def effects(self, world: World, payload: dict[str, Any]) -> int:
        path = f"/text-to-scene/{payload['storyboard_id']}/prompt"
        return len([e for e in world.apis["syllaby"].logged(path, "POST") if e["status"] < 300])

    def check_resends(self, world: World, payload: dict[str, Any], sends: int) -> None:
        # The ledger answers a re-send itself: the request reached Syllaby once, however many sends.
        path = f"/text-to-scene/{payload['storyboard_id']}/prompt"
        assert len(world.apis["syllaby"].logged(path, "POST")) == 1

    def break_account(self, world: World) -> None:
        body = {"active": False}
        self.sandbox(world).control.put("/subscription", json=body).raise_for_status()

    def mend_account(self, world: World) -> None:
        body = {"active": True}
        self.sandbox(world).control.put("/subscription", json=body).raise_for_status()

    def crash_fault(self, payload: dict[str, Any]) -> dict[str, Any]:
        path = f"/text-to-scene/{payload['storyboard_id']}/prompt"
        return {"path": path, "method": "POST", "respond_latency_ms": 60_000, "times": 1}

    def check_crash_outcome(self, outcome: dict[str, Any]) -> None:
        # Syllaby's state cannot tell whether a generate took effect, so the ledger says so
        # honestly rather than send it again (it could charge twice).
        assert outcome["ok"] is False, outcome
        error = outcome["error"]
        assert error["code"] == "outcome_unknown" and error["retryable"] is False
        ledger = error["details"]["ledger"]
        assert ledger["commandId"] == outcome["commandId"]
        assert ledger["command"] == self.command
        assert ledger["state"] == "started"

    def process_env(self, world: World) -> dict[str, str]:
        return {
            "SYLLABY_API_TOKEN": world.secrets["syllaby"],
            "SYLLABY_BASE_URL": self.sandbox(world).base_url,
            "STORYBRIDGE_SYLLABY_RATE_LIMIT_PER_MINUTE": "6000",
            "STORYBRIDGE_LEDGER_LEASE_SECONDS": "3",
            "STORYBRIDGE_REQUEST_TIMEOUT_SECONDS": "20",
        }


BUNDLED: dict[str, Profile] = {"story": StoryProfile(), "syllaby": SyllabyProfile()}
