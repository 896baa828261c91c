"""Read commands: every documented GET on both paths, answering the API's own JSON, watching nothing."""

from __future__ import annotations

from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from nats.js.errors import NoKeysError

from schemas.story.reads import READ_COMMANDS
from tests.fixtures.bridge import Outcomes, StartBridge, send
from tests.fixtures.sandbox import SandboxApi

PATHS = ["request", "durable"]

# The contract's "Read commands" list, spelled out; the project adds the other documented GETs
# (docs/CONTRACT.md "Commands added").
CONTRACT_READS = {
    *(f"{r}.{a}" for r in ("project", "source", "plan", "job") for a in ("get", "list")),
    "artifact.get",
    "artifact.get_script",
    "artifact.get_cast",
    "artifact.get_music",
    "artifact.get_sfx",
    "artifact.get_coverage",
    "series_bible.get",
    "credits.get",
    "capabilities.get",
}
ADDED_READS = {"job.list_artifacts", "cast_canon.get", "openapi.get", "examples.get"}


def test_every_contract_read_is_a_command() -> None:
    """The registry holds the contract's read commands, plus the project's added reads."""
    assert {m.command for m in READ_COMMANDS} == CONTRACT_READS | ADDED_READS


@pytest.mark.parametrize("path", PATHS)
async def test_every_read_command_answers_the_apis_json_and_starts_no_watch(
    path: str,
    start_bridge: StartBridge,
    nc: NatsClient,
    outcomes: Outcomes,
    sandbox_api: SandboxApi,
) -> None:
    """Each read's `result` is exactly what the same GET returns from the API, and no watch is made."""
    job_id, artifact_id = sandbox_api.ready_artifact()
    job = sandbox_api.ok(sandbox_api.get(f"/story-jobs/{job_id}"))["job"]
    project_id, plan_id = job["projectId"], job["storyPlanId"]
    source_id = sandbox_api.text_source(project_id)
    bridge = await start_bridge()

    reads: dict[str, tuple[dict[str, Any], str, dict[str, Any]]] = {
        "project.get": ({"projectId": project_id}, f"/story-projects/{project_id}", {}),
        "project.list": ({"limit": 5}, "/story-projects", {"limit": 5}),
        "source.get": (
            {"projectId": project_id, "sourceId": source_id},
            f"/story-projects/{project_id}/sources/{source_id}",
            {},
        ),
        "source.list": ({"projectId": project_id}, f"/story-projects/{project_id}/sources", {}),
        "plan.get": ({"planId": plan_id}, f"/story-plans/{plan_id}", {}),
        "plan.list": ({"projectId": project_id}, f"/story-projects/{project_id}/story-plans", {}),
        "job.get": ({"jobId": job_id}, f"/story-jobs/{job_id}", {}),
        "job.list": (
            {"projectId": project_id, "storyPlanId": plan_id, "limit": 10},
            "/story-jobs",
            {"projectId": project_id, "storyPlanId": plan_id, "limit": 10},
        ),
        "job.list_artifacts": ({"jobId": job_id}, f"/story-jobs/{job_id}/artifacts", {}),
        "artifact.get": ({"artifactId": artifact_id}, f"/artifacts/{artifact_id}", {}),
        "artifact.get_script": (
            {"artifactId": artifact_id, "scope": "page", "page": 1},
            f"/artifacts/{artifact_id}/script",
            {"scope": "page", "page": 1},
        ),
        "artifact.get_cast": ({"artifactId": artifact_id}, f"/artifacts/{artifact_id}/cast", {}),
        "artifact.get_music": (
            {"artifactId": artifact_id},
            f"/artifacts/{artifact_id}/music",
            {},
        ),
        "artifact.get_sfx": ({"artifactId": artifact_id}, f"/artifacts/{artifact_id}/sfx", {}),
        "artifact.get_coverage": (
            {"artifactId": artifact_id},
            f"/artifacts/{artifact_id}/coverage",
            {},
        ),
        "series_bible.get": (
            {"projectId": project_id},
            f"/story-projects/{project_id}/series-bible",
            {},
        ),
        "credits.get": ({}, "/credits", {}),
        "capabilities.get": ({}, "/capabilities", {}),
        "cast_canon.get": (
            {"projectId": project_id},
            f"/story-projects/{project_id}/cast-canon",
            {},
        ),
        "openapi.get": ({}, "/openapi.json", {}),
        "examples.get": ({}, "/examples", {}),
    }
    assert set(reads) == {m.command for m in READ_COMMANDS}
    for command, (payload, api_path, params) in reads.items():
        outcome = await send(nc, outcomes, path, command, payload)
        direct = sandbox_api.get(api_path, **params)
        if direct.status_code != 200:  # e.g. no series bible yet: the API's own error code
            assert outcome["ok"] is False, (command, outcome)
            assert outcome["error"]["code"] == direct.json()["error"]["code"], command
            continue
        assert outcome["ok"] is True, (command, outcome)
        assert outcome["status"] == 200 and outcome["replayed"] is False
        assert outcome["result"] == direct.json(), command
    # No watch record was written anywhere in the bucket (replicas mirror only their shards).
    bucket = await nc.jetstream().key_value("STORYBRIDGE_WATCHES")
    try:
        keys = await bucket.keys()
    except NoKeysError:
        keys = []
    assert bridge.engine is not None and [k for k in keys if k.startswith("w.")] == []


@pytest.mark.parametrize(
    ("command", "payload", "field"),
    [
        ("project.list", {"limit": 101}, "limit"),
        ("job.get", {}, "jobId"),
        ("artifact.get", {"artifactId": "cma_1", "revision": 0}, "revision"),
        ("artifact.get_script", {"artifactId": "cma_1", "scope": "act"}, "scope"),
        ("credits.get", {"unexpected": True}, "unexpected"),
    ],
)
async def test_a_malformed_read_is_invalid_command_naming_the_field(
    command: str,
    payload: dict[str, Any],
    field: str,
    start_bridge: StartBridge,
    nc: NatsClient,
    outcomes: Outcomes,
) -> None:
    """Limits, required ids and enums are checked before any call."""
    await start_bridge()
    outcome = await send(nc, outcomes, "request", command, payload)
    assert outcome["ok"] is False
    assert outcome["error"]["code"] == "invalid_command"
    assert field in outcome["error"]["message"]


async def test_a_read_of_a_missing_resource_answers_the_apis_not_found(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes
) -> None:
    await start_bridge()
    outcome = await send(nc, outcomes, "request", "job.get", {"jobId": "cmj_missing"})
    assert outcome["ok"] is False
    assert outcome["error"]["code"] == "story_job_not_found"
    assert outcome["error"]["status"] == 404
