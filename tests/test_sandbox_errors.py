"""Every documented error code is reachable in the sandbox, with its status and the envelope.

One recipe per code: the 23 codes of the reference table plus story_plan_not_found,
story_plan_state_invalid and story_plan_failed from the agent guide. Each runs on a fresh sandbox
with a manual clock over real HTTP.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest

from bridge.sandboxes.story import FaultRule, StorySandboxConfig, StorySandboxServer
from schemas.story.errors import ERROR_CODES
from tests.fixtures.sandbox import PLAN_DONE, SandboxApi

RATE_LIMIT = 30


@pytest.fixture
def sandbox_config() -> StorySandboxConfig:
    return StorySandboxConfig(manual_clock=True, rate_limit_per_minute=RATE_LIMIT)


def minted_get(sb: StorySandboxServer, path: str, **spec: object) -> httpx.Response:
    """GET with a key minted through the control API (scopes, state, allowedIps)."""
    key = sb.control.post("/keys", json=spec).json()["key"]
    return httpx.get(sb.base_url + path, headers={"Authorization": f"Bearer {key}"})


def no_auth(api: SandboxApi, sb: StorySandboxServer) -> httpx.Response:
    return httpx.get(f"{sb.base_url}/capabilities")


def bad_key(api: SandboxApi, sb: StorySandboxServer) -> httpx.Response:
    return httpx.get(f"{sb.base_url}/capabilities", headers={"Authorization": "Bearer sh_nope"})


def key_in_state(state: str) -> Callable[[SandboxApi, StorySandboxServer], httpx.Response]:
    def reach(api: SandboxApi, sb: StorySandboxServer) -> httpx.Response:
        return minted_get(sb, "/capabilities", state=state)

    return reach


def ip_not_allowed(api: SandboxApi, sb: StorySandboxServer) -> httpx.Response:
    return minted_get(sb, "/capabilities", allowedIps=["203.0.113.7"])


def insufficient_scope(api: SandboxApi, sb: StorySandboxServer) -> httpx.Response:
    response = minted_get(sb, "/credits", scopes=["story:read"])
    assert "credits:read" in response.json()["error"]["message"]
    return response


def rate_limited(api: SandboxApi, sb: StorySandboxServer) -> httpx.Response:
    for _ in range(RATE_LIMIT):
        assert api.get("/capabilities").status_code == 200
    return api.get("/capabilities")


def idempotency_key_required(api: SandboxApi, sb: StorySandboxServer) -> httpx.Response:
    return api.post("/story-jobs", {"storyPlanId": "cmpl_x"}, key=None)


def idempotency_conflict(api: SandboxApi, sb: StorySandboxServer) -> httpx.Response:
    api.ok(api.post("/story-projects", {"name": "a"}, key="same"))
    return api.post("/story-projects", {"name": "b"}, key="same")


def validation_failed(api: SandboxApi, sb: StorySandboxServer) -> httpx.Response:
    response = api.post("/story-projects", {"name": ""})
    assert "name" in response.json()["error"]["message"]
    return response


def project_not_found(api: SandboxApi, sb: StorySandboxServer) -> httpx.Response:
    return api.get("/story-projects/cmp_missing")


def source_not_found(api: SandboxApi, sb: StorySandboxServer) -> httpx.Response:
    return api.get(f"/story-projects/{api.project()}/sources/cmq_missing")


def source_type_unsupported(api: SandboxApi, sb: StorySandboxServer) -> httpx.Response:
    return api.post(f"/story-projects/{api.project()}/sources", {"type": "video", "uri": "x"})


def source_too_large(api: SandboxApi, sb: StorySandboxServer) -> httpx.Response:
    body = {"type": "text", "content": "x" * 1_000_001}
    response = api.post(f"/story-projects/{api.project()}/sources", body)
    assert response.json()["error"]["details"]["maxBytes"] == 1_000_000
    return response


def source_fetch_failed(api: SandboxApi, sb: StorySandboxServer) -> httpx.Response:
    body = {"type": "url", "uri": "http://169.254.169.254/latest/meta-data"}
    response = api.post(f"/story-projects/{api.project()}/sources", body)
    assert response.json()["error"]["details"]["reason"] == "ip_blocked"
    return response


def story_plan_not_found(api: SandboxApi, sb: StorySandboxServer) -> httpx.Response:
    return api.post("/story-plans/cmpl_missing/approve")


def story_plan_state_invalid(api: SandboxApi, sb: StorySandboxServer) -> httpx.Response:
    plan_id = api.plan(api.project())["id"]
    api.ok(api.post(f"/story-plans/{plan_id}/reject", {"reason": "no"}))
    return api.post(f"/story-plans/{plan_id}/reject", {"reason": "again"})


def story_plan_failed(api: SandboxApi, sb: StorySandboxServer) -> httpx.Response:
    """A plan titled with "fail" fails generation; approving it is story_plan_failed."""
    plan_id = api.plan(api.project(), title="please fail")["id"]
    api.advance(PLAN_DONE)
    return api.post(f"/story-plans/{plan_id}/approve")


def story_job_not_found(api: SandboxApi, sb: StorySandboxServer) -> httpx.Response:
    return api.get("/story-jobs/cmj_missing")


def story_job_state_invalid(api: SandboxApi, sb: StorySandboxServer) -> httpx.Response:
    plan_id = api.plan(api.project())["id"]  # PENDING, not APPROVED
    response = api.post("/story-jobs", {"storyPlanId": plan_id})
    assert response.json()["error"]["details"] == {"status": "PENDING", "allowed": ["APPROVED"]}
    return response


def artifact_not_found(api: SandboxApi, sb: StorySandboxServer) -> httpx.Response:
    return api.get("/artifacts/cma_missing")


def artifact_not_ready(api: SandboxApi, sb: StorySandboxServer) -> httpx.Response:
    _, plan_id = api.approved_plan()
    job_id = api.job(plan_id)["id"]
    api.advance(5)  # RUNNING: the artifact exists, not READY yet
    artifact_id = api.ok(api.get(f"/story-jobs/{job_id}"))["job"]["artifacts"][0]["id"]
    return api.post(f"/artifacts/{artifact_id}/render-video")


def artifact_generation_failed(api: SandboxApi, sb: StorySandboxServer) -> httpx.Response:
    """An artifact request whose notes say "fail" fails; finalizing it is the adapter failure."""
    _, plan_id = api.approved_plan()
    requests = [{"type": "table_read", "notes": "make this fail"}]
    job_id = api.job(plan_id, artifactRequests=requests)["id"]
    api.advance(40)
    job = api.ok(api.get(f"/story-jobs/{job_id}"))["job"]
    assert job["status"] == "FAILED"
    return api.post(f"/artifacts/{job['artifacts'][0]['id']}/finalize", {"mode": "audio"})


def insufficient_credits(api: SandboxApi, sb: StorySandboxServer) -> httpx.Response:
    _, plan_id = api.approved_plan()
    sb.control.put("/credits", json={"balance": 4}).raise_for_status()
    response = api.post("/story-jobs", {"storyPlanId": plan_id})
    assert response.json()["error"]["details"] == {"required": 11, "available": 4}
    return response


def internal_error(api: SandboxApi, sb: StorySandboxServer) -> httpx.Response:
    rule = FaultRule(path="/credits", error_rate=1.0)
    sb.control.put("/faults", json=[rule.model_dump()]).raise_for_status()
    return api.get("/credits")


RECIPES: dict[str, Callable[[SandboxApi, StorySandboxServer], httpx.Response]] = {
    "authentication_required": no_auth,
    "invalid_api_key": bad_key,
    "api_key_revoked": key_in_state("revoked"),
    "api_key_expired": key_in_state("expired"),
    "account_disabled": key_in_state("disabled"),
    "ip_not_allowed": ip_not_allowed,
    "insufficient_scope": insufficient_scope,
    "rate_limited": rate_limited,
    "idempotency_key_required": idempotency_key_required,
    "idempotency_conflict": idempotency_conflict,
    "validation_failed": validation_failed,
    "project_not_found": project_not_found,
    "source_not_found": source_not_found,
    "source_type_unsupported": source_type_unsupported,
    "source_too_large": source_too_large,
    "source_fetch_failed": source_fetch_failed,
    "story_plan_not_found": story_plan_not_found,
    "story_plan_state_invalid": story_plan_state_invalid,
    "story_plan_failed": story_plan_failed,
    "story_job_not_found": story_job_not_found,
    "story_job_state_invalid": story_job_state_invalid,
    "artifact_not_found": artifact_not_found,
    "artifact_not_ready": artifact_not_ready,
    "artifact_generation_failed": artifact_generation_failed,
    "insufficient_credits": insufficient_credits,
    "internal_error": internal_error,
}


def test_every_documented_code_has_a_recipe() -> None:
    """The recipes cover exactly the documented codes: 23 + the three story_plan_* codes."""
    assert set(RECIPES) == set(ERROR_CODES)
    assert len(RECIPES) == 26


@pytest.mark.parametrize("code", sorted(RECIPES))
def test_error_code_is_reachable_with_status_and_envelope(
    code: str, sandbox: StorySandboxServer, sandbox_api: SandboxApi
) -> None:
    """The recipe answers the code with its documented status and a well-formed envelope."""
    response = RECIPES[code](sandbox_api, sandbox)
    assert response.status_code == ERROR_CODES[code], response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert error["requestId"] == response.headers["X-Request-Id"]
    uuid.UUID(error["requestId"])
    assert response.headers["RateLimit-Limit"] == str(RATE_LIMIT)
    assert int(response.headers["RateLimit-Remaining"]) >= 0
    assert int(response.headers["RateLimit-Reset"]) >= 1
    if code == "rate_limited":
        assert response.headers["Retry-After"] == response.headers["RateLimit-Reset"]
