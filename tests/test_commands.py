"""Commands over NATS against the sandbox: every contract command, both paths, one effect each."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from tests.fixtures.bridge import SUBJECTS, Flow, Outcomes, StartBridge, send
from tests.fixtures.requestlog import requests_of
from tests.fixtures.waiting import commands_settled, until


@pytest.fixture(autouse=True)
def no_secret_in_logs(
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture, sandbox_key: str
) -> Iterator[None]:
    """Every scenario here (bad input, storms, replicas, ...): the captured output and log records
    never contain the key's secret, while they do name the key by its prefix."""
    yield
    out, err = capfd.readouterr()
    text = out + err + caplog.text
    prefix, secret = sandbox_key.rsplit("_", 1)
    assert secret not in text
    assert prefix in text  # the bridge logged its per-command lines, and we read them


PATHS = ["request", "durable"]
TARGET = {
    "audience": "enterprise buyers",
    "objective": "explain the launch",
    "outcome": "book a demo",
}
TABLE_READ = [{"type": "table_read", "mode": "documentary"}]


def requests_log(sandbox: Any, path: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = requests_of(sandbox)
    return [e for e in entries if e["path"].endswith(path)]


@pytest.mark.parametrize("path", PATHS)
async def test_every_contract_command_succeeds(
    path: str, start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes, story_client: Any
) -> None:
    """Each command of the contract's table executes through this intake path and answers ok."""
    from schemas.catalog import COMMAND_MODELS
    from schemas.story.commands_pipeline import PIPELINE_COMMANDS
    from schemas.story.reads import READ_COMMANDS

    await start_bridge()
    f = Flow(nc, outcomes, path)
    project = (await f.ok("project.create", {"name": "every command"}))["project"]
    pid = project["id"]
    await f.ok("project.update", {"projectId": pid, "description": "updated"})
    source = (
        await f.ok("source.create", {"projectId": pid, "type": "text", "content": "x" * 400})
    )["source"]
    spare = (
        await f.ok("source.create", {"projectId": pid, "type": "markdown", "content": "# hi"})
    )["source"]
    await f.ok("source.delete", {"projectId": pid, "sourceId": spare["id"]})
    await f.ok("series_bible.generate", {"projectId": pid, "instructions": "a 3-episode arc"})
    await f.ok("series_bible.update", {"projectId": pid, "content": {"logline": "x"}})

    # A plan to reject, then a plan to approve (creating the second supersedes nothing rejected).
    doomed = (
        await f.ok(
            "plan.create",
            {"projectId": pid, "target": TARGET, "artifactRequests": TABLE_READ},
        )
    )["plan"]
    await until(lambda: _plan_status(story_client, doomed["id"], "REQUIRES_APPROVAL"), limit=30)
    await f.ok("plan.reject", {"planId": doomed["id"], "reason": "tone"})
    plan = (
        await f.ok(
            "plan.create",
            {
                "projectId": pid,
                "target": TARGET,
                "artifactRequests": TABLE_READ,
                "sourceIds": [source["id"]],
            },
        )
    )["plan"]
    await until(lambda: _plan_status(story_client, plan["id"], "REQUIRES_APPROVAL"))
    await f.ok("plan.approve", {"planId": plan["id"]})

    cancel_me = (await f.ok("job.create", {"storyPlanId": plan["id"]}))["job"]
    await f.ok("job.cancel", {"jobId": cancel_me["id"]})
    job = (
        await f.ok(
            "job.create", {"storyPlanId": plan["id"], "projectId": pid, "commandId": f"{path}-job2"}
        )
    )["job"]
    ready = await until(lambda: _job_if(story_client, job["id"], "READY"))
    aid = ready.artifacts[0].id

    await f.ok("watch.add", {"resource": "job", "id": job["id"]})
    listed = await f.ok("admin.watches", {"resource": "job", "limit": 100})
    assert job["id"] in [w["id"] for w in listed["watches"]]
    fleet = await f.ok("admin.status", {})
    assert fleet["shards"]["total"] == 32 and fleet["replicas"]
    await f.ok("watch.remove", {"resource": "job", "id": job["id"]})
    await f.ok(
        "artifact.voice",
        {"artifactId": aid, "character": "NARRATOR", "voiceId": "v1", "voiceName": "Warm"},
    )
    await f.ok(
        "artifact.sfx",
        {"artifactId": aid, "op": "add", "entryIndex": 1, "label": "knock", "prompt": "knock"},
    )
    await f.ok("artifact.cast", {"artifactId": aid, "avatarStyle": "ink"})
    await f.ok("artifact.avatar", {"artifactId": aid, "character": "NARRATOR"})
    await f.ok(
        "artifact.voice_modification", {"artifactId": aid, "startEntryIndex": 0, "endEntryIndex": 2}
    )
    await f.ok("artifact.coverage", {"artifactId": aid, "focusPrompt": "midpoint"})
    await f.ok("artifact.music", {"artifactId": aid, "musicCoveragePercent": 0.35})
    await f.ok("artifact.finalize", {"artifactId": aid, "mode": "audio"})
    await f.ok("artifact.render_video", {"artifactId": aid})
    await f.ok("artifact.refine", {"artifactId": aid, "instruction": "make the host warmer"})
    await f.ok("project.delete", {"projectId": pid})
    # Dead letters: none here, so a dry run matches nothing (the redrive tests drive real ones).
    report = await f.ok("admin.redrive", {"dryRun": True})
    assert report == {"matched": 0, "redriven": 0, "dryRun": True, "commands": {}}

    # The project's additions run in tests/test_pipeline_replay.py (the production client's order),
    # the read commands in tests/test_reads.py, Syllaby's in tests/test_syllaby_commands.py.
    from schemas.syllaby.commands import SYLLABY_COMMANDS

    others = {m.command for m in (*PIPELINE_COMMANDS, *READ_COMMANDS, *SYLLABY_COMMANDS)}
    contract = set(COMMAND_MODELS) - others
    assert f.seen == contract, sorted(contract - f.seen)


async def _plan_status(client: Any, plan_id: str, status: str) -> bool:
    return bool((await client.get_plan(plan_id)).data.status == status)


async def _job_if(client: Any, job_id: str, status: str) -> Any:
    job = (await client.get_job(job_id)).data
    return job if job.status == status else None


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("command", "payload", "field"),
    [
        ("project.create", b"{not json", "payload"),
        ("project.create", b"[1, 2]", "payload"),
        ("nothing.here", b"{}", "subject"),
        ("project.create", b'{"name": ""}', "name"),
        ("plan.create", b'{"projectId": "p", "target": {"audience": "a"}}', "target.objective"),
        ("project.create", json.dumps({"name": "x" * (1024 * 1024 + 1000)}).encode(), "payload"),
    ],
    ids=["not-json", "not-object", "unknown-subject", "empty-name", "missing-field", "too-large"],
)
async def test_bad_input_is_answered_invalid_command(
    path: str,
    command: str,
    payload: bytes,
    field: str,
    start_bridge: StartBridge,
    nc: NatsClient,
    outcomes: Outcomes,
) -> None:
    """Bad input gets invalid_command naming the field; the bridge keeps serving."""
    await start_bridge()
    outcome = await send(nc, outcomes, path, command, payload, command_id=f"bad-{path}")
    assert outcome["ok"] is False
    assert outcome["error"]["code"] == "invalid_command"
    assert outcome["error"]["retryable"] is False
    assert field in outcome["error"]["message"] or outcome["error"].get("field") == field

    after = await send(nc, outcomes, path, "project.create", {"name": "still serving"})
    assert after["ok"] is True


async def test_bad_durable_command_is_not_redelivered(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes
) -> None:
    """A poison message is terminated: one outcome, nothing pending on the consumer afterwards."""
    bridge = await start_bridge(ack_wait_seconds=1.0)
    await send(nc, outcomes, "durable", "project.create", b"{oops", command_id="poison-1")
    # The consumer's own state says the message was settled, so nothing can redeliver it.
    info = await commands_settled(nc.jetstream())
    assert info.num_ack_pending == 0 and info.num_pending == 0 and info.num_redelivered == 0
    assert len(outcomes.for_command("poison-1")) == 1
    assert bridge.intake is not None and bridge.intake.bound


async def test_terminal_api_error_is_answered_at_once_with_the_api_code(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes, sandbox: Any
) -> None:
    """A terminal 4xx is not retried: one API request, the API's code and requestId in the outcome."""
    await start_bridge()
    outcome = await send(nc, outcomes, "request", "job.cancel", {"jobId": "cmj_missing"})
    assert outcome["ok"] is False
    assert outcome["error"]["code"] == "story_job_not_found"
    assert outcome["error"]["status"] == 404
    assert outcome["error"]["retryable"] is False
    assert outcome["error"]["requestId"]
    assert len(requests_log(sandbox, "/story-jobs/cmj_missing/cancel")) == 1


async def test_server_error_storm_ends_as_upstream_unavailable(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes, sandbox: Any
) -> None:
    """5xx on every try: retried with the same key within the budget, then upstream_unavailable."""
    await start_bridge(retry_budget_seconds=2.0)
    sandbox.control.put(
        "/faults",
        json=[{"path": "/story-projects", "method": "POST", "error_rate": 1.0, "status": 500}],
    )
    outcome = await send(nc, outcomes, "request", "project.create", {"name": "storm"})
    assert outcome["ok"] is False
    assert outcome["error"]["code"] == "upstream_unavailable"
    assert outcome["error"]["retryable"] is True
    posts = [e for e in requests_log(sandbox, "/story-projects") if e["method"] == "POST"]
    assert len(posts) >= 2
    assert len({e["idempotencyKey"] for e in posts}) == 1


async def test_rate_limited_command_waits_retry_after_then_succeeds(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes, sandbox: Any
) -> None:
    """A 429 with Retry-After: 2 delays the command by 2 s, then it succeeds."""
    await start_bridge(retry_budget_seconds=10.0)
    sandbox.control.put(
        "/faults",
        json=[
            {
                "path": "/story-projects",
                "method": "POST",
                "storm_429": True,
                "retry_after": 2,
                "times": 1,
            }
        ],
    )
    outcome = await send(nc, outcomes, "durable", "project.create", {"name": "patient"})
    assert outcome["ok"] is True
    first, second = [e for e in requests_log(sandbox, "/story-projects") if e["method"] == "POST"][
        :2
    ]
    assert first["status"] == 429
    assert second["status"] == 200
    assert second["time"] - first["time"] >= 2.0


async def test_two_replicas_share_the_durable_consumer(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes, sandbox: Any
) -> None:
    """Commands published to the stream are each handled once across two replicas."""
    await start_bridge()
    await start_bridge()
    js = nc.jetstream()
    ids = [f"rep-{i}" for i in range(40)]
    for cid in ids:
        body = json.dumps({"name": cid, "commandId": cid}).encode()
        await js.publish(SUBJECTS.command("project.create"), body)
    for cid in ids:
        await outcomes.wait_for(cid)
    await commands_settled(js)  # settled after its outcome: no second outcome can follow
    assert all(len(outcomes.for_command(cid)) == 1 for cid in ids)
    posts = [e for e in requests_log(sandbox, "/story-projects") if e["method"] == "POST"]
    assert len(posts) == len(ids)
