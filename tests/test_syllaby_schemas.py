"""Syllaby commands: the call each row declares, the reference's limits, what needs the ledger."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from handlers.syllaby import ROWS
from schemas.catalog import COMMAND_ROUTES, parse_command
from schemas.syllaby import resources as r
from schemas.syllaby.commands import SYLLABY_COMMANDS

ENDPOINTS = {row.model.command: row.endpoint for row in ROWS}
GEN = {"prompt": "Deep sea", "clip_engine_id": 9, "duration": {"min": 30, "max": 60}}

# command -> (payload, method, path, body)
SAMPLES: dict[str, tuple[dict[str, Any], str, str, dict[str, Any] | None]] = {
    "syllaby.storyboard.create": (
        {"title": "Deep", "mode": "wizard"},
        "POST",
        "text-to-scene",
        {"title": "Deep", "mode": "wizard"},
    ),
    "syllaby.storyboard.get": ({"storyboard_id": 1}, "GET", "text-to-scene/1", None),
    "syllaby.storyboard.update": (
        {"storyboard_id": 1, "settings": {"audio": False}},
        "PATCH",
        "text-to-scene/1",
        {"settings": {"audio": False}},
    ),
    "syllaby.storyboard.estimate": ({"storyboard_id": 1}, "GET", "text-to-scene/1/estimate", None),
    "syllaby.storyboard.generate": (
        {"storyboard_id": 1, **GEN},
        "POST",
        "text-to-scene/1/prompt",
        GEN,
    ),
    "syllaby.storyboard.context": (
        {"storyboard_id": 1, "prompt": "p"},
        "POST",
        "text-to-scene/1/context",
        {"prompt": "p"},
    ),
    "syllaby.storyboard.render": ({"storyboard_id": 1}, "POST", "text-to-scene/1/render", None),
    "syllaby.storyboard.generate_clips": (
        {"storyboard_id": 1, "scenes": [{"id": 12, "enhance": True}]},
        "POST",
        "text-to-scene/1/clips",
        {"scenes": [{"id": 12, "enhance": True}]},
    ),
    "syllaby.scene.create": (
        {"storyboard_id": 1, "order": 0, "raw_video_prompt": "reef", "duration": 5},
        "POST",
        "text-to-scene/1/scenes",
        {"order": 0, "raw_video_prompt": "reef", "duration": 5},
    ),
    "syllaby.scene.update": (
        {"storyboard_id": 1, "scene_id": 12, "duration": 6},
        "PATCH",
        "text-to-scene/1/scenes/12",
        {"duration": 6},
    ),
    "syllaby.scene.delete": (
        {"storyboard_id": 1, "scene_id": 12},
        "DELETE",
        "text-to-scene/1/scenes/12",
        None,
    ),
    "syllaby.scene.status": (
        {"storyboard_id": 1, "scene_id": 12},
        "GET",
        "text-to-scene/1/scenes/12/status",
        None,
    ),
    "syllaby.scene.sort": (
        {"storyboard_id": 1, "scene_id": 12, "after_id": None},
        "PUT",
        "text-to-scene/1/scenes/sort",
        {"scene_id": 12, "after_id": None},
    ),
    "syllaby.scene.frames": (
        {"storyboard_id": 1, "scene_id": 12, "first_frame_id": 101, "last_frame_id": None},
        "PUT",
        "text-to-scene/1/scenes/12/frames",
        {"first_frame_id": 101, "last_frame_id": None},
    ),
    "syllaby.scene.chain": (
        {"storyboard_id": 1, "scene_id": 12, "chain_scene_id": 11},
        "PUT",
        "text-to-scene/1/scenes/12/chain",
        {"scene_id": 11},
    ),
    "syllaby.scene.unchain": (
        {"storyboard_id": 1, "scene_id": 12},
        "DELETE",
        "text-to-scene/1/scenes/12/chain",
        None,
    ),
    "syllaby.moodboard.upload": (
        {"storyboard_id": 1, "prompt": "warm", "references": [5, 6]},
        "POST",
        "text-to-scene/1/moodboard/upload",
        {"prompt": "warm", "references": [5, 6]},
    ),
    "syllaby.moodboard.generate": (
        {"storyboard_id": 1, "prompt": "warm", "enhance": True},
        "POST",
        "text-to-scene/1/moodboard/generate",
        {"prompt": "warm", "enhance": True},
    ),
}


def test_samples_cover_every_syllaby_command() -> None:
    """The table above exercises each Syllaby command of the contract."""
    assert set(SAMPLES) == {m.command for m in SYLLABY_COMMANDS}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_command_describes_its_call(name: str) -> None:
    """Path parameters fill the route, the rest is the body in the API's own names."""
    payload, method, path, body = SAMPLES[name]
    cmd: Any = parse_command(name, {**payload, "commandId": "c-1"})
    endpoint = ENDPOINTS[name]
    filled = endpoint.path.format(**cmd.path_values())
    assert (endpoint.method, filled, cmd.request_json()) == (method, path, body)
    assert COMMAND_ROUTES[name] == f"{method} /{endpoint.path}"


def test_every_post_and_delete_needs_the_ledger_and_nothing_else_does() -> None:
    """Repeating a POST or DELETE changes the API again; GET, PATCH and PUT set a state."""
    assert set(ENDPOINTS) == {m.command for m in SYLLABY_COMMANDS}
    for name, endpoint in ENDPOINTS.items():
        ledger = endpoint.method in ("POST", "DELETE")
        assert endpoint.idempotency == ("ledger" if ledger else "none"), name


@pytest.mark.parametrize(
    ("name", "payload", "field"),
    [
        ("syllaby.storyboard.generate", {**GEN, "prompt": "x" * 5001}, "prompt"),
        ("syllaby.storyboard.generate", {**GEN, "references": ["r"] * 6}, "references"),
        (
            "syllaby.storyboard.generate",
            {**GEN, "context": [{"key": "style", "question": "q", "answer": "a"}] * 4},
            "context",
        ),
        (
            "syllaby.storyboard.generate",
            {**GEN, "context": [{"key": "mood", "question": "q", "answer": "a"}]},
            "context",
        ),
        (
            "syllaby.storyboard.generate",
            {**GEN, "context": [{"key": "style", "question": "q" * 501, "answer": "a"}]},
            "context",
        ),
        (
            "syllaby.storyboard.generate",
            {"prompt": "p", "duration": GEN["duration"]},
            "clip_engine_id",
        ),
        ("syllaby.storyboard.context", {"prompt": "x" * 5001}, "prompt"),
        ("syllaby.storyboard.generate_clips", {"scenes": []}, "scenes"),
        ("syllaby.scene.create", {"duration": 0}, "duration"),
        ("syllaby.scene.create", {"raw_video_prompt": "x" * 5001}, "raw_video_prompt"),
        ("syllaby.moodboard.generate", {"prompt": "x" * 5001}, "prompt"),
    ],
)
def test_requests_over_the_references_limits_are_refused(
    name: str, payload: dict[str, Any], field: str
) -> None:
    """Prompts <= 5000 chars, <= 5 references, <= 3 context pairs of known keys, ..."""
    with pytest.raises(ValidationError) as info:
        parse_command(name, {"storyboard_id": 1, **payload})
    assert info.value.errors()[0]["loc"][0] == field


def test_create_needs_a_title_of_at_most_255_and_a_known_mode() -> None:
    for bad in (
        {"title": "x" * 256, "mode": "wizard"},
        {"title": "t", "mode": "auto"},
        {"mode": "manual"},
    ):
        with pytest.raises(ValidationError):
            parse_command("syllaby.storyboard.create", bad)


def test_path_ids_are_integers_not_booleans_or_text() -> None:
    """`storyboard_id: true` or `"abc"` is refused before anything is sent."""
    for bad in (True, "abc", 0):
        with pytest.raises(ValidationError):
            parse_command("syllaby.storyboard.render", {"storyboard_id": bad})


def test_responses_keep_unknown_fields_and_statuses() -> None:
    """A status or field the reference never mentioned is kept, not refused."""
    board = r.Storyboard.model_validate(
        {
            "id": 1,
            "status": "generating:hero",
            "brand_new": {"x": 1},
            "video": {"status": "rendering", "url": None, "codec": "av1"},
            "scenes": [{"id": 12, "status": "clip:upscaling"}],
        }
    )
    assert board.status == "generating:hero" and board.model_extra == {"brand_new": {"x": 1}}
    assert board.video is not None and board.video.model_extra == {"codec": "av1"}
    env = r.Envelope.model_validate(
        {"data": {}, "meta": {"credits": {"cost": 90, "remaining": 810}}}
    )
    assert env.credits is not None and env.credits.cost == 90
