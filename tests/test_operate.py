"""Operating a running bridge: `/healthz`, `/readyz`, `/metrics` and `/asyncapi` of `serve()`.

Every test runs the real service wiring (`bridge.service.serve`) against a real nats-server and the
sandbox over HTTP, and reads the endpoints over HTTP as Kubernetes and Prometheus would. The
sandbox clock is manual, so a job moves only when a test advances it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from prometheus_client.parser import text_string_to_metric_families

from bridge.config import BridgeSettings
from bridge.http.transport import RetryPolicy
from bridge.nats.embedded import EmbeddedNats, free_port
from bridge.ops.metrics import route_template
from bridge.providers.story.client import StoryClient, story_transport
from bridge.sandboxes.story import StorySandboxConfig, StorySandboxServer
from bridge.service import serve
from schemas.story.reads import READ_COMMANDS
from tests.fixtures.bridge import bridge_settings
from tests.fixtures.client import TEST_TIMEOUT, set_faults
from tests.fixtures.sandbox import JOB_DONE, SandboxApi
from tests.fixtures.waiting import until

GUARD = 30.0  # seconds: a guard against hangs, never an asserted duration
TYPE_PREFIX = "studio.sleeperhit.story"

# The contract's "Commands in" table (CONTRACT.md), transcribed: every `<resource>.<action>`.
CONTRACT_COMMANDS = (
    "project.create",
    "project.update",
    "project.delete",
    "source.create",
    "source.delete",
    "plan.create",
    "plan.approve",
    "plan.reject",
    "job.create",
    "job.cancel",
    "artifact.refine",
    "artifact.finalize",
    "artifact.render_video",
    "artifact.voice",
    "artifact.coverage",
    "artifact.music",
    "artifact.sfx",
    "artifact.cast",
    "artifact.avatar",
    "artifact.voice_modification",
    "series_bible.generate",
    "series_bible.update",
    "watch.add",
    "watch.remove",
)
# The contract's "Events out" table, transcribed: subject pattern -> statuses.
CONTRACT_EVENTS = {
    "source": "pending extracting ready failed",
    "source.digest": "pending running ready failed skipped",
    "plan": "pending running requires_approval approved rejected failed superseded",
    "job": "pending reserved running partial ready failed canceled",
    "artifact": "pending running ready failed",
    "artifact.finalize": "needs_recording queued rendering uploading complete failed",
    "artifact.video": "queued rendering complete failed stale",
    "artifact.music": "generating ready",
    "artifact.coverage": "generating complete failed",
}
SINGLE_EVENTS = (
    "artifact.revised",
    "watch.stalled",
    "command.succeeded",
    "command.failed",
)


@pytest.fixture
def sandbox_config() -> StorySandboxConfig:
    return StorySandboxConfig(manual_clock=True, rate_limit_per_minute=100_000)


# --- helpers -----------------------------------------------------------------------------------


@dataclass
class Running:
    """A `serve()` task and the base URL of its HTTP endpoints."""

    task: asyncio.Task[None]
    url: str


@contextlib.asynccontextmanager
async def serving(settings: BridgeSettings) -> AsyncIterator[Running]:
    """Run `serve(settings)` until the block ends; the HTTP port must be a concrete one."""
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop=stop), name="serve")
    url = f"http://127.0.0.1:{settings.http_port}"
    try:
        await until(lambda: _answers(url, task))
        yield Running(task, url)
    finally:
        stop.set()
        await asyncio.wait_for(task, GUARD)


async def _answers(url: str, task: asyncio.Task[None]) -> bool:
    if task.done():
        task.result()  # surfaces a startup crash at once
        raise AssertionError("serve() returned before it was asked to stop")
    try:
        async with httpx.AsyncClient(base_url=url, timeout=2) as http:
            return (await http.get("/healthz")).status_code == 200
    except httpx.TransportError:
        return False


async def counted(url: str, event_type: str) -> Any:
    """The scraped samples once `/metrics` counts a published event of `event_type`, else None."""
    samples = await scrape(url)
    return (
        samples if sample(samples, "storybridge_events_published_total", type=event_type) else None
    )


def settings_for(
    nats_url: str, sandbox: StorySandboxServer, key: str, tmp: Path, **kw: Any
) -> BridgeSettings:
    return bridge_settings(nats_url, sandbox.base_url, key, tmp, http_port=free_port(), **kw)


async def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """GET /metrics, parsed as Prometheus would: (sample name, labels) -> value."""
    async with httpx.AsyncClient(base_url=url, timeout=5) as http:
        resp = await http.get("/metrics")
    assert resp.status_code == 200
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(resp.text)
        for s in family.samples
    }


def sample(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    """One sample's value; 0 when the labelled series does not exist yet."""
    return samples.get((name, frozenset(labels.items())), 0.0)


async def request(nc: NatsClient, command: str, body: dict[str, Any]) -> dict[str, Any]:
    body = {**body, "commandId": f"op-{uuid.uuid4()}"}
    reply = await nc.request(f"story.req.{command}", json.dumps(body).encode(), timeout=GUARD)
    outcome: dict[str, Any] = json.loads(reply.data)
    return outcome


class Events:
    """CloudEvents seen on a core-NATS subscription, in arrival order."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    async def on_msg(self, msg: Msg) -> None:
        self.items.append(json.loads(msg.data))

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.items if e["type"] == event_type]


# --- /healthz and /readyz ----------------------------------------------------------------------


async def test_healthz_is_200_while_nats_is_unreachable(
    sandbox: StorySandboxServer, sandbox_key: str, tmp_path: Path
) -> None:
    """Liveness only says the process runs: 200 even while the bridge is still waiting for NATS,
    and the bridge keeps waiting instead of exiting."""
    settings = settings_for(f"nats://127.0.0.1:{free_port()}", sandbox, sandbox_key, tmp_path)
    async with serving(settings) as running, httpx.AsyncClient(base_url=running.url) as http:
        for _ in range(5):
            resp = await http.get("/healthz")
            assert (resp.status_code, resp.json()) == (200, {"status": "ok"})
            await asyncio.sleep(0.1)
        assert not running.task.done()


async def test_readyz_is_503_until_nats_is_reachable_then_200(
    sandbox: StorySandboxServer, sandbox_key: str, tmp_path: Path
) -> None:
    """Started with no nats-server at its URL, the bridge answers /readyz 503 (NATS failing) and
    keeps retrying; once a server listens there it connects, binds the stream and consumer, opens
    the watch store, and /readyz turns 200 with every check true."""
    port = free_port()
    settings = settings_for(f"nats://127.0.0.1:{port}", sandbox, sandbox_key, tmp_path)
    server = EmbeddedNats(tmp_path / "nats", port=port)
    try:
        async with serving(settings) as running, httpx.AsyncClient(base_url=running.url) as http:
            for _ in range(5):
                before = await http.get("/readyz")
                assert before.status_code == 503
                assert before.json()["status"] == "not_ready"
                assert before.json()["checks"]["nats"] is False
                await asyncio.sleep(0.1)
            assert not running.task.done()

            server.start()
            assert server.port == port

            async def ready() -> httpx.Response | None:
                resp = await http.get("/readyz")
                return resp if resp.status_code == 200 else None

            after = await until(ready)
            assert after.json() == {
                "status": "ready",
                "checks": {"nats": True, "intake": True, "watches": True},
            }
            assert (await http.get("/healthz")).status_code == 200
    finally:
        server.stop()


async def test_stop_ends_serve_while_nats_is_still_unreachable(
    sandbox: StorySandboxServer, sandbox_key: str, tmp_path: Path
) -> None:
    """A SIGTERM (the stop event) while the bridge still waits for NATS ends serve() and frees the
    HTTP port, instead of hanging until NATS appears."""
    settings = settings_for(f"nats://127.0.0.1:{free_port()}", sandbox, sandbox_key, tmp_path)
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop=stop))
    url = f"http://127.0.0.1:{settings.http_port}"
    await until(lambda: _answers(url, task))
    stop.set()
    await asyncio.wait_for(task, GUARD)  # the guard: without the fix this never returns
    assert task.exception() is None
    async with httpx.AsyncClient(base_url=url, timeout=2) as http:
        with pytest.raises(httpx.TransportError):
            await http.get("/healthz")


# --- /metrics ------------------------------------------------------------------------------------


async def test_a_request_reply_command_counts_the_command_and_its_api_request(
    nats_server: EmbeddedNats,
    nc: NatsClient,
    sandbox: StorySandboxServer,
    sandbox_key: str,
    tmp_path: Path,
) -> None:
    """One project.create through request/reply adds exactly one `ok` command and exactly one
    `POST /story-projects` 200 API request (with its duration) to /metrics."""
    settings = settings_for(nats_server.url, sandbox, sandbox_key, tmp_path)
    async with serving(settings) as running:
        await until(lambda: _ready(running.url))
        before = await scrape(running.url)
        outcome = await request(nc, "project.create", {"name": "metrics"})
        assert outcome["ok"] is True, outcome
        assert outcome["status"] == 200
        after = await scrape(running.url)

    command = {"command": "project.create", "outcome": "ok"}
    api = {"method": "POST", "route": "/story-projects"}
    assert sample(before, "storybridge_commands_total", **command) == 0
    assert sample(after, "storybridge_commands_total", **command) == 1
    assert (
        sample(after, "storybridge_command_duration_seconds_count", command="project.create") == 1
    )
    assert sample(before, "storybridge_api_requests_total", **api, status="200") == 0
    assert sample(after, "storybridge_api_requests_total", **api, status="200") == 1
    assert sample(after, "storybridge_api_request_duration_seconds_count", **api) == 1
    assert sample(after, "storybridge_api_request_duration_seconds_sum", **api) > 0


async def test_a_watched_job_reaching_ready_counts_events_and_detection_latency(
    nats_server: EmbeddedNats,
    nc: NatsClient,
    sandbox: StorySandboxServer,
    sandbox_api: SandboxApi,
    sandbox_key: str,
    tmp_path: Path,
) -> None:
    """A job created by command is watched. Its first sighting is counted as a published event but
    not as a detection latency (there is no earlier poll); the change to READY, seen by a later
    poll, counts its event and one detection latency observation, measured in seconds on the same
    clock (bounded by the test's own duration)."""
    _, plan_id = sandbox_api.approved_plan()
    events = Events()
    await nc.subscribe("story.evt.job.>", cb=events.on_msg)
    settings = settings_for(nats_server.url, sandbox, sandbox_key, tmp_path)
    started = time.time()
    async with serving(settings) as running:
        await until(lambda: _ready(running.url))
        outcome = await request(nc, "job.create", {"storyPlanId": plan_id})
        assert outcome["ok"] is True, outcome
        job_id = outcome["result"]["job"]["id"]

        first = (await until(lambda: events.items))[0]
        assert first["data"]["id"] == job_id
        assert first["data"]["previousStatus"] is None
        first_type = f"{TYPE_PREFIX}.job.{first['data']['status'].lower()}"
        assert first["type"] == first_type

        seen = await until(lambda: counted(running.url, first_type))
        assert sample(seen, "storybridge_events_published_total", type=first_type) == 1
        assert sample(seen, "storybridge_detection_latency_seconds_count") == 0

        sandbox_api.advance(JOB_DONE)
        ready_type = f"{TYPE_PREFIX}.job.ready"
        await until(lambda: events.of_type(ready_type))

        done = await until(lambda: counted(running.url, ready_type))
    elapsed = time.time() - started

    ready = events.of_type(ready_type)
    assert len(ready) == 1
    assert ready[0]["data"]["previousStatus"] is not None
    assert sample(done, "storybridge_events_published_total", type=ready_type) == 1
    assert sample(done, "storybridge_events_published_total", type=first_type) == 1
    count = sample(done, "storybridge_detection_latency_seconds_count")
    total = sample(done, "storybridge_detection_latency_seconds_sum")
    assert count >= 1
    assert 0 < total <= count * elapsed
    # Every observation falls in the +Inf bucket, and the count equals it (a real histogram).
    assert sample(done, "storybridge_detection_latency_seconds_bucket", le="+Inf") == count


async def _ready(url: str) -> bool:
    async with httpx.AsyncClient(base_url=url, timeout=5) as http:
        return (await http.get("/readyz")).status_code == 200


async def test_the_api_request_hook_sees_every_attempt_including_transport_errors(
    sandbox: StorySandboxServer, sandbox_key: str
) -> None:
    """The client reports each HTTP attempt to `on_request`: a dropped connection as status None,
    then the retried answer with its status, both with a positive duration."""
    seen: list[tuple[str, str, int | None, float]] = []
    set_faults(sandbox, {"path": "/story-projects", "method": "POST", "drop": True, "times": 1})
    async with StoryClient(
        story_transport(
            sandbox.base_url,
            sandbox_key,
            retry=RetryPolicy(budget_seconds=GUARD, base_delay=0.02, max_delay=0.1),
            timeout=TEST_TIMEOUT,
            on_request=lambda *attempt: seen.append(attempt),
        )
    ) as api:
        resp = await api.create_project({"name": "hooked"}, idempotency_key="k-hook")
    assert resp.status == 200
    assert [(m, route_template(p), s) for m, p, s, _ in seen] == [
        ("POST", "/story-projects", None),
        ("POST", "/story-projects", 200),
    ]
    assert all(duration > 0 for *_, duration in seen)


# --- /asyncapi -----------------------------------------------------------------------------------


def _resolve(document: dict[str, Any], node: Any) -> Any:
    """Follow `$ref`s (`#/a/b/c`) inside the document."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


async def test_asyncapi_lists_every_contract_subject_with_a_payload_schema(
    nats_server: EmbeddedNats, sandbox: StorySandboxServer, sandbox_key: str, tmp_path: Path
) -> None:
    """/asyncapi of a bridge with prefix `ops` has a channel for every command subject (durable
    `ops.cmd.*` and request `ops.req.*`) and every event subject of the contract's tables, plus the
    command outcome and watch.stalled events, each message carrying an object payload schema."""
    settings = settings_for(nats_server.url, sandbox, sandbox_key, tmp_path, subject_prefix="ops")
    async with serving(settings) as running, httpx.AsyncClient(base_url=running.url) as http:
        resp = await http.get("/asyncapi")
    assert resp.status_code == 200
    document = resp.json()
    assert document["asyncapi"].startswith("3.")
    by_address = {channel["address"]: channel for channel in document["channels"].values()}

    expected = [f"ops.{kind}.{name}" for name in CONTRACT_COMMANDS for kind in ("cmd", "req")]
    expected += [
        f"ops.evt.{base}.{status}"
        for base, statuses in CONTRACT_EVENTS.items()
        for status in statuses.split()
    ]
    expected += [f"ops.evt.{name}" for name in SINGLE_EVENTS]
    assert len(expected) == 95
    # The read commands (contract "Read commands") are channels too, on both paths.
    expected += [f"ops.{kind}.{m.command}" for m in READ_COMMANDS for kind in ("cmd", "req")]
    missing = sorted(set(expected) - set(by_address))
    assert missing == []
    assert not [a for a in by_address if not a.startswith("ops.")]

    for address in expected:
        messages = by_address[address]["messages"]
        assert messages, address
        for ref in messages.values():
            payload = _resolve(document, _resolve(document, ref)["payload"])
            assert payload.get("type") == "object" and payload.get("properties"), address
    # Commands carry their own command schema; events the CloudEvent envelope.
    command_payload = _resolve(
        document,
        _resolve(document, next(iter(by_address["ops.req.job.create"]["messages"].values())))[
            "payload"
        ],
    )
    assert "storyPlanId" in command_payload["properties"]
    event_payload = _resolve(
        document,
        _resolve(document, next(iter(by_address["ops.evt.job.ready"]["messages"].values())))[
            "payload"
        ],
    )
    assert {"specversion", "id", "source", "type", "data"} <= set(event_payload["properties"])
