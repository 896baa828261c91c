"""Syllaby facets: every status is published, the contract's in-progress set decides when a facet
settles, and a video only ends with its url (or a failure)."""

from __future__ import annotations

from typing import Any

from nats.aio.client import Client as NatsClient

from bridge.providers.syllaby.watch import facets
from bridge.watch.model import Reading, WatchSpec
from tests.fixtures.bridge import Outcomes, send
from tests.fixtures.syllaby_bridge import EventLog, StartSyllabyBridge
from tests.fixtures.syllaby_sandbox import SyllabyApi
from tests.fixtures.waiting import until

BOARD = WatchSpec(provider="syllaby", resource="storyboard", id="1")
RENDER = WatchSpec(provider="syllaby", resource="storyboard", id="1", facets=("status", "video"))
SCENE = WatchSpec(provider="syllaby", resource="scene", id="12", parents={"storyboardId": "1"})


def board(status: str, video_status: str = "rendering", url: str | None = None) -> Reading:
    return Reading({"id": 1, "status": status, "video": {"status": video_status, "url": url}})


def test_a_storyboard_watch_without_a_render_has_no_video_facet() -> None:
    """The reference's never-rendered storyboard shows video `rendering`, url null: not an event."""
    observed = facets.observe(BOARD, board("ready"))
    assert [(o.facet, o.status) for o in observed] == [(None, "ready")]
    assert facets.is_terminal(BOARD, observed)


def test_a_render_ends_only_when_the_url_is_set_or_it_failed() -> None:
    rendering = facets.observe(RENDER, board("processing"))
    assert not facets.is_terminal(RENDER, rendering)
    still = facets.observe(RENDER, board("completed", "rendering"))
    assert not facets.is_terminal(RENDER, still)  # the status settled, the video did not
    done = facets.observe(RENDER, board("completed", "rendering", "https://cdn/v.mp4"))
    assert facets.is_terminal(RENDER, done)
    assert done[1].change_token != still[1].change_token  # the url landing is a change
    failed = facets.observe(RENDER, board("ready", "failed"))
    assert facets.is_terminal(RENDER, failed)


def test_the_in_progress_set_is_the_contracts() -> None:
    for status in (
        "generating:prompts",
        "generating:anything",
        "processing",
        "queued",
        "rendering",
    ):
        assert facets.in_progress(status)
    for status in ("clip:queued", "clip:generating"):
        assert facets.in_progress(status)
    for status in ("ready", "draft", "clip:completed", "clip:upscaling", "brand_new", "failed"):
        assert not facets.in_progress(status)


def test_names_lower_case_the_status_and_turn_colons_into_underscores() -> None:
    (obs,) = facets.observe(SCENE, Reading({"id": 12, "status": "Clip:Generating"}))
    assert obs.status == "Clip:Generating"  # data.status keeps the API's value
    assert facets.event_subject(obs) == "syllaby.scene.clip_generating"
    assert facets.event_type(obs) == "io.syllaby.scene.clip_generating"
    assert obs.subject_path == "text-to-scene/1/scenes/12"
    assert obs.data == {"provider": "syllaby", "storyboardId": "1"}


async def test_a_status_the_reference_never_lists_is_published_and_settles(
    start_syllaby_bridge: StartSyllabyBridge,
    nc: NatsClient,
    outcomes: Outcomes,
    syllaby_api: SyllabyApi,
    syllaby_sandbox: Any,
    syllaby_events: EventLog,
) -> None:
    board_id = syllaby_api.storyboard(mode="manual")
    await start_syllaby_bridge()
    created = await send(
        nc, outcomes, "request", "syllaby.scene.create", {"storyboard_id": board_id, "duration": 5}
    )
    scene_id = created["result"]["data"]["id"]
    syllaby_sandbox.control.put(f"/scenes/{scene_id}", json={"status": "clip:upscaling"})
    await send(
        nc,
        outcomes,
        "request",
        "watch.add",
        {"provider": "syllaby", "resource": "scene", "id": scene_id, "storyboard_id": board_id},
    )
    await syllaby_events.wait_for(
        lambda: any(s.endswith("syllaby.scene.clip_upscaling") for s, _ in syllaby_events.syllaby())
    )
    event = next(e for s, e in syllaby_events.syllaby() if s.endswith(".clip_upscaling"))
    assert event["data"]["status"] == "clip:upscaling"
    assert event["type"] == "io.syllaby.scene.clip_upscaling"

    async def settled() -> bool:
        listed = await send(
            nc, outcomes, "request", "admin.watches", {"provider": "syllaby", "resource": "scene"}
        )
        return any(
            w["id"] == str(scene_id) and w["state"] == "done" for w in listed["result"]["watches"]
        )

    await until(settled)  # anything outside the in-progress set settles the facet
