"""Every documented error code, produced by the sandbox, surfaces as the right exception."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import uuid4

import pytest

from bridge.http import errors as e
from bridge.providers.story import errors as se
from bridge.providers.story.client import StoryClient, story_transport
from bridge.sandboxes.story import StorySandboxConfig, StorySandboxServer
from tests.fixtures.client import (
    TEST_RETRY,
    TEST_TIMEOUT,
    advance_clock,
    mint_key,
    request_log,
    set_faults,
)


@pytest.fixture
def sandbox_config() -> StorySandboxConfig:
    """Time moves only when a scenario says so: no race against a fast clock."""
    return StorySandboxConfig(manual_clock=True, rate_limit_per_minute=100_000)


def key() -> str:
    return str(uuid4())


TARGET = {"audience": "a", "objective": "b", "outcome": "c"}
Scenario = Callable[[StoryClient, Any], Awaitable[Any]]


async def _project(api: StoryClient) -> str:
    return (await api.create_project({"name": "errors"}, idempotency_key=key())).data.id


async def _plan(api: StoryClient, sandbox: Any, *, approve: bool = False) -> str:
    pid = await _project(api)
    body = {"target": TARGET, "artifactRequests": [{"type": "table_read"}]}
    plan_id = (await api.create_plan(pid, body, idempotency_key=key())).data.id
    advance_clock(sandbox, 600)
    if approve:
        await api.approve_plan(plan_id)
    return plan_id


async def _artifact(api: StoryClient, sandbox: Any, *, ready: bool) -> str:
    plan_id = await _plan(api, sandbox, approve=True)
    job = (await api.create_job({"storyPlanId": plan_id}, idempotency_key=key())).data
    advance_clock(sandbox, 600 if ready else 5)  # 5 s: RUNNING, its artifact not ready yet
    job = (await api.get_job(job.id)).data
    if job.artifacts:
        return job.artifacts[0].id
    return (await api.list_job_artifacts(job.id)).data.items[0].id


async def rate_limited(api: StoryClient, sandbox: Any) -> Any:
    set_faults(sandbox, {"path": "/story-projects", "storm_429": True, "retry_after": 1})
    return await api.create_project({"name": "x"})  # no key: not retried


async def idempotency_conflict(api: StoryClient, sandbox: Any) -> Any:
    await api.create_project({"name": "a"}, idempotency_key="same")
    return await api.create_project({"name": "b"}, idempotency_key="same")


async def plan_state_invalid(api: StoryClient, sandbox: Any) -> Any:
    plan_id = await _plan(api, sandbox)
    await api.reject_plan(plan_id)
    return await api.reject_plan(plan_id)


async def job_state_invalid(api: StoryClient, sandbox: Any) -> Any:
    plan_id = await _plan(api, sandbox)  # REQUIRES_APPROVAL, not APPROVED
    return await api.create_job({"storyPlanId": plan_id}, idempotency_key=key())


async def artifact_not_ready(api: StoryClient, sandbox: Any) -> Any:
    aid = await _artifact(api, sandbox, ready=False)
    return await api.artifact_render_video(aid, idempotency_key="early")


async def insufficient_credits(api: StoryClient, sandbox: Any) -> Any:
    plan_id = await _plan(api, sandbox, approve=True)
    sandbox.control.put("/credits", json={"balance": 0}).raise_for_status()
    return await api.create_job({"storyPlanId": plan_id}, idempotency_key="broke")


async def source_too_large(api: StoryClient, sandbox: Any) -> Any:
    pid = await _project(api)
    # The client checks the size itself; the raw escape hatch lets the server see it.
    body = {"type": "text", "content": "x" * 1_000_001}
    return await api.request("POST", f"story-projects/{pid}/sources", json=body)


async def source_fetch_failed(api: StoryClient, sandbox: Any) -> Any:
    pid = await _project(api)
    return await api.create_source(pid, {"type": "url", "uri": "http://127.0.0.1/private"})


async def source_type_unsupported(api: StoryClient, sandbox: Any) -> Any:
    pid = await _project(api)
    sandbox.control.put("/capabilities/sources/pdf", json={"availability": "planned"})
    return await api.create_source(pid, {"type": "pdf", "uri": "https://example.com/a.pdf"})


async def idempotency_key_required(api: StoryClient, sandbox: Any) -> Any:
    aid = await _artifact(api, sandbox, ready=True)
    return await api.artifact_refine(aid, {"instruction": "x"})


async def validation_failed(api: StoryClient, sandbox: Any) -> Any:
    # The client validates bodies; the raw escape hatch lets a bad one reach the server.
    return await api.request("POST", "story-projects", json={"name": ""}, idempotency_key=key())


async def internal_error(api: StoryClient, sandbox: Any) -> Any:
    set_faults(sandbox, {"path": "/story-projects", "error_rate": 1.0})
    return await api.create_project({"name": "x"})  # no key: surfaces the first 500


async def source_not_found(api: StoryClient, sandbox: Any) -> Any:
    return await api.get_source(await _project(api), "cmq_no")


def _with_key(
    scopes: list[str] | None = None, state: str = "active", ips: list[str] | None = None
) -> Scenario:
    async def scenario(api: StoryClient, sandbox: Any) -> Any:
        key = mint_key(sandbox, scopes=scopes, state=state, allowed_ips=ips)
        async with StoryClient(
            story_transport(sandbox.base_url, key, retry=api.transport.retry)
        ) as other:
            return await other.get_credits()

    return scenario


SCENARIOS: list[tuple[str, int, type[e.ApiError], Scenario]] = [
    ("api_key_revoked", 401, e.AuthenticationError, _with_key(state="revoked")),
    ("api_key_expired", 401, e.AuthenticationError, _with_key(state="expired")),
    ("account_disabled", 403, e.PermissionDenied, _with_key(state="disabled")),
    ("ip_not_allowed", 403, e.PermissionDenied, _with_key(ips=["10.9.8.7"])),
    ("insufficient_scope", 403, se.InsufficientScope, _with_key(scopes=["story:read"])),
    ("rate_limited", 429, e.RateLimited, rate_limited),
    ("idempotency_conflict", 409, e.IdempotencyConflict, idempotency_conflict),
    ("idempotency_key_required", 422, e.IdempotencyKeyRequired, idempotency_key_required),
    ("validation_failed", 422, e.ValidationFailed, validation_failed),
    ("project_not_found", 404, se.ProjectNotFound, lambda api, _: api.get_project("cmp_no")),
    ("source_not_found", 404, se.SourceNotFound, source_not_found),
    ("source_type_unsupported", 422, se.SourceRejected, source_type_unsupported),
    ("source_too_large", 422, se.SourceRejected, source_too_large),
    ("source_fetch_failed", 422, se.SourceRejected, source_fetch_failed),
    ("story_plan_not_found", 404, se.PlanNotFound, lambda api, _: api.approve_plan("cmpl_no")),
    ("story_plan_state_invalid", 409, se.PlanStateInvalid, plan_state_invalid),
    ("story_job_not_found", 404, se.JobNotFound, lambda api, _: api.get_job("cmj_no")),
    ("story_job_state_invalid", 409, se.JobStateInvalid, job_state_invalid),
    ("artifact_not_found", 404, se.ArtifactNotFound, lambda api, _: api.get_artifact("cma_no")),
    ("artifact_not_ready", 409, se.ArtifactNotReady, artifact_not_ready),
    ("insufficient_credits", 402, e.InsufficientCredits, insufficient_credits),
    ("internal_error", 500, e.ServerError, internal_error),
]


@pytest.mark.parametrize(
    ("code", "status", "cls", "scenario"), SCENARIOS, ids=[s[0] for s in SCENARIOS]
)
async def test_error_code_maps_to_its_exception(
    code: str,
    status: int,
    cls: type[e.ApiError],
    scenario: Scenario,
    sandbox: Any,
    sandbox_key: str,
) -> None:
    """The sandbox's error surfaces as the typed exception with code, status and request id."""
    async with StoryClient(
        story_transport(sandbox.base_url, sandbox_key, retry=TEST_RETRY, timeout=TEST_TIMEOUT)
    ) as api:
        with pytest.raises(cls) as info:
            await scenario(api, sandbox)
    err = info.value
    assert (err.code, err.status) == (code, status)
    last = request_log(sandbox)[-1]
    assert err.request_id == last["requestId"] and last["status"] == status


async def test_unknown_key_is_an_authentication_error(sandbox_key: str) -> None:
    """A sandbox that knows no keys answers invalid_api_key: AuthenticationError, 401."""
    with StorySandboxServer(StorySandboxConfig(accept_any_key=False)) as strict:
        async with StoryClient(story_transport(strict.base_url, sandbox_key)) as api:
            with pytest.raises(e.AuthenticationError) as info:
                await api.get_credits()
        log = request_log(strict)
    assert (info.value.code, info.value.status) == ("invalid_api_key", 401)
    assert info.value.request_id == log[-1]["requestId"] and len(log) == 1


async def test_a_missing_plan_reads_as_project_not_found(
    story_client: StoryClient, sandbox: Any
) -> None:
    """Documented quirk: GET of an unknown plan answers project_not_found; still a NotFound."""
    with pytest.raises(e.NotFound) as info:
        await story_client.get_plan("cmpl_no")
    assert info.value.code == "project_not_found"
    assert info.value.request_id == request_log(sandbox)[-1]["requestId"]
