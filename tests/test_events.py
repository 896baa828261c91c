"""Events out, through the whole bridge: the happy path, replicas sharing watches, take-over."""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Any

from cloudevents.core.formats.json import JSONFormat
from nats.aio.client import Client as NatsClient
from rich.console import Console

from bridge.cli.demo_kit import EventWaiter, Session
from bridge.providers.story.demo import walk_happy_path
from tests.fixtures.bridge import SUBJECTS, Recorder, StartBridge
from tests.fixtures.waiting import watches_settled

HAPPY_PATH_ORDER = {
    "plan": ["plan.pending", "plan.running", "plan.requires_approval", "plan.approved"],
    "job": ["job.reserved", "job.running", "job.ready"],
    "artifact": ["artifact.running", "artifact.ready"],
    "finalize": ["artifact.finalize.queued", "artifact.finalize.complete"],
}


def _in_order(seen: list[str], expected: list[str]) -> bool:
    """`expected` appears in `seen` as a subsequence (polling may skip a short-lived state)."""
    it = iter(seen)
    return all(any(s == e for s in it) for e in expected)


async def test_happy_path_publishes_the_contract_events_in_order(
    start_bridge: StartBridge, nc: NatsClient
) -> None:
    """Plan, job, artifact and finalize events arrive in order, as valid CloudEvents with unique ids."""
    await start_bridge()
    recorder = Recorder()
    waiter = EventWaiter(Console(quiet=True))
    await nc.subscribe(SUBJECTS.event(">"), cb=recorder.on_msg)
    await nc.subscribe(SUBJECTS.event(">"), cb=waiter.on_msg)

    await walk_happy_path(Session(nc, SUBJECTS, Console(quiet=True), waiter, 60))
    await watches_settled(nc.jetstream())  # every watch finished and flushed: nothing can follow

    events = recorder.resource_events()
    subjects = [s for s, _ in events]
    finals = [s for s in subjects if s.startswith("artifact.finalize.")]
    assert _in_order([s for s in subjects if s.startswith("plan.")], HAPPY_PATH_ORDER["plan"][2:])
    assert _in_order([s for s in subjects if s.startswith("job.")], HAPPY_PATH_ORDER["job"])
    assert _in_order(
        [s for s in subjects if s.startswith("artifact.") and s.count(".") == 1],
        HAPPY_PATH_ORDER["artifact"],
    )
    assert _in_order(finals, HAPPY_PATH_ORDER["finalize"])

    ids = []
    for msg in recorder.messages:
        event = JSONFormat().read(None, msg.data)  # raises unless it is valid CloudEvents 1.0
        attributes = event.get_attributes()
        assert attributes["specversion"] == "1.0"
        assert msg.headers is not None
        assert msg.headers["Nats-Msg-Id"] == attributes["id"]
        assert msg.headers["Content-Type"] == "application/cloudevents+json"
        assert attributes["type"].startswith("studio.sleeperhit.story.")
        ids.append(attributes["id"])
    assert len(ids) == len(set(ids))

    # previousStatus chains per resource+facet, starting from null.
    chains: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
    for _, event in events:
        data = event["data"]
        if "status" in data:
            chains.setdefault((data["id"], data.get("facet")), []).append(data)
    for chain in chains.values():
        assert chain[0]["previousStatus"] is None
        for before, after in pairwise(chain):
            assert after["previousStatus"] == before["status"]


async def test_an_inline_source_has_its_digest_followed_to_ready(
    start_bridge: StartBridge, nc: NatsClient
) -> None:
    """An inline source is READY at once (no status events), but its digest is watched: the
    source.digest events arrive, ending in ready, and no plain source status event."""
    await start_bridge()
    recorder = Recorder()
    await nc.subscribe(SUBJECTS.event("source.>"), cb=recorder.on_msg)
    project = await nc.request(
        SUBJECTS.request("project.create"), json.dumps({"name": "digest"}).encode(), timeout=30
    )
    project_id = json.loads(project.data)["result"]["project"]["id"]
    body = {"projectId": project_id, "type": "text", "content": "A lighthouse keeper. " * 40}
    reply = await nc.request(
        SUBJECTS.request("source.create"), json.dumps(body).encode(), timeout=30
    )
    source_id = json.loads(reply.data)["result"]["source"]["id"]

    def digest_ready() -> bool:
        return any(m.subject.endswith("source.digest.ready") for m in recorder.messages)

    assert await recorder.wait_for(digest_ready, timeout=60)
    events = recorder.resource_events()
    assert {e["data"]["id"] for _, e in events} == {source_id}
    assert all(subject.startswith("source.digest.") for subject, _ in events)
