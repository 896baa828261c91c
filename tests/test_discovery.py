"""Discovery (off by default) finds work started elsewhere: sources extracting, and artifacts whose
finalize, video or voice-modification ranges are in flight, besides plans and jobs; each sweep
costs the list calls story_discovery documents."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from bridge.nats.embedded import EmbeddedNats
from bridge.ops.metrics import Metrics
from bridge.providers.story.watch.discovery import busy_artifact_facets
from bridge.providers.story.watch.provider import StoryProvider
from bridge.runtime import Bridge
from bridge.sandboxes.story import StorySandboxConfig
from bridge.sandboxes.story.config import StoryDurations
from tests.fixtures.bridge import SUBJECTS, Recorder, StartBridge, bridge_settings
from tests.fixtures.requestlog import requests_of
from tests.fixtures.sandbox import TEST_SPEED, SandboxApi

pytestmark = pytest.mark.slow


@pytest.fixture
def sandbox_config() -> StorySandboxConfig:
    """Work long enough (seconds of wall time) for a 0.2 s discovery sweep to find it in flight."""
    durations = StoryDurations(source_extract=200, finalize_stage=200, voice_modification=600)
    return StorySandboxConfig(speed=TEST_SPEED, rate_limit_per_minute=100_000, durations=durations)


def _data(recorder: Recorder, prefix: str) -> list[dict[str, Any]]:
    return [json.loads(m.data)["data"] for m in recorder.on(prefix)]


async def test_a_url_source_made_elsewhere_is_found_and_followed(
    start_bridge: StartBridge, nc: NatsClient, story_client: Any
) -> None:
    """A url source created over HTTP, not through the bridge, is found by a sweep and published
    until ready."""
    recorder = Recorder()
    await nc.subscribe(SUBJECTS.event("source.>"), cb=recorder.on_msg)
    await start_bridge(discovery_interval_seconds=0.2)
    pid = (await story_client.create_project({"name": "x"}, idempotency_key="p-1")).data.id
    body = {"type": "url", "uri": "https://example.com/article"}
    source = (await story_client.create_source(pid, body, idempotency_key=str(uuid.uuid4()))).data

    def ready() -> bool:
        return any(
            d["id"] == source.id and d["status"] == "ready" and "facet" not in d
            for d in _data(recorder, "source.")
        )

    assert await recorder.wait_for(ready, timeout=60)


async def test_an_artifact_finalizing_elsewhere_is_found_and_followed(
    start_bridge: StartBridge, nc: NatsClient, story_client: Any, sandbox_api: SandboxApi
) -> None:
    """A finalize and a voice modification started over HTTP on a READY artifact: discovery
    watches the artifact and publishes artifact.finalize.complete and the range's ready."""
    _, aid = sandbox_api.ready_artifact()
    recorder = Recorder()
    await nc.subscribe(SUBJECTS.event("artifact.>"), cb=recorder.on_msg)
    # Both started before the bridge: a sweep between the two would watch the artifact with the
    # first facet only (an artifact already watched is left alone by later sweeps).
    await story_client.artifact_finalize(aid, {"mode": "audio"}, idempotency_key="f-1")
    body = {"startEntryIndex": 0, "endEntryIndex": 1}
    await story_client.artifact_voice_modification(aid, body, idempotency_key="vm-1")
    await start_bridge(discovery_interval_seconds=0.2)

    def done() -> bool:
        finals = [d["status"] for d in _data(recorder, "artifact.finalize.") if d["id"] == aid]
        ranges = [d["status"] for d in _data(recorder, "artifact.voice_modification.")]
        return "complete" in finals and "ready" in ranges

    assert await recorder.wait_for(done, timeout=60)


def test_only_facets_in_flight_make_an_artifact_worth_watching() -> None:
    """From the embedded manifest alone: finalize/video in flight and unfinished ranges count."""
    art = {
        "manifest": {
            "audio": {"finalize": {"status": "rendering"}, "modifications": [{"status": "ready"}]},
            "video": {"status": "complete"},
        }
    }
    assert busy_artifact_facets(art) == ("finalize",)
    art["manifest"]["audio"]["modifications"].append({"status": "queued"})
    assert busy_artifact_facets(art) == ("finalize", "voice_modification")
    assert busy_artifact_facets({"manifest": None}) == ()


async def test_a_sweep_costs_one_listing_plus_three_per_project(
    story_client: Any, sandbox: Any
) -> None:
    """With two small projects, one sweep makes 1 + 2 x 3 list calls (projects; then plans, jobs
    and sources per project), as story_discovery's table says."""
    for name in ("a", "b"):
        await story_client.create_project({"name": name}, idempotency_key=f"p-{name}")
    provider = StoryProvider(story_client, base_url=sandbox.base_url)
    before = len(requests_of(sandbox))
    found = [spec async for spec in provider.discover()]
    calls = requests_of(sandbox)[before:]
    assert found == []
    assert all(c["method"] == "GET" for c in calls)
    assert len(calls) == 1 + 2 * 3


async def test_discovery_stays_within_its_share_and_stretches_its_interval(
    nats_server: EmbeddedNats,
    sandbox: Any,
    sandbox_key: str,
    sandbox_api: SandboxApi,
    tmp_path: Path,
) -> None:
    """A 1 s interval the budget cannot pay for (3 projects: 10 list calls a sweep; at 600
    requests a minute discovery's 0.2 of the 0.8 poll share is 1.6 calls a second): the calls stay
    within that share, the first sweep runs at start, and the stretch is counted."""
    for name in ("a", "b", "c"):
        sandbox_api.project(name)  # nothing in flight: every call in the window is discovery's
    log = sandbox.state.log
    before = len(log.entries())
    settings = bridge_settings(
        nats_server.url,
        sandbox.base_url,
        sandbox_key,
        tmp_path / "d",
        discovery_interval_seconds=1.0,
        rate_limit_per_minute=600,
        poll_budget_share=0.8,
    )
    metrics = Metrics(process=False)
    bridge = Bridge(settings, metrics=metrics)
    await bridge.start()
    try:
        await asyncio.sleep(7.0)
    finally:
        await bridge.stop()
    calls = [e for e in log.entries()[before:] if e.method == "GET" and e.path != "/credits"]
    assert len(calls) >= 8, "the first sweep runs at start, and sweeps go on, paced"
    span = calls[-1].time - calls[0].time
    assert len(calls) <= 600 / 60 * 0.8 * 0.2 * span + 2, (len(calls), span)
    assert metrics.discovery_stretched_total._value.get() >= 1
