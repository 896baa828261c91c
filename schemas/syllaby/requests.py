"""Syllaby Text-to-Scene request bodies, strict, with the reference's limits.

Field names are the API's own (snake_case): a command payload carries them as the API takes them.
Only limits the reference states are enforced here; the API judges the rest (422).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from schemas.wire.base import RequestModel

# The reference's ids are integers; bool is an int in Python, refused here so `true` is no id.
IntId = Annotated[int, Field(ge=1, strict=True)]
Prompt = Annotated[str, Field(min_length=1, max_length=5000)]
ContextText = Annotated[str, Field(min_length=1, max_length=500)]


class Settings(RequestModel):
    """Render settings; only the fields sent are changed."""

    audio: bool | None = None
    aspect_ratio: Annotated[str, Field(min_length=1, max_length=16)] | None = None
    resolution: Annotated[str, Field(min_length=1, max_length=16)] | None = None


class StoryboardCreate(RequestModel):
    """POST /text-to-scene."""

    title: Annotated[str, Field(min_length=1, max_length=255)]
    mode: Literal["wizard", "manual"]


class StoryboardUpdate(RequestModel):
    """PATCH /text-to-scene/{id}: the storyboard's render settings."""

    settings: Settings | None = None


class DurationRange(RequestModel):
    min: Annotated[int, Field(ge=1, strict=True)]
    max: Annotated[int, Field(ge=1, strict=True)]


class ContextPair(RequestModel):
    key: Literal["purpose", "style", "audience"]
    question: ContextText
    answer: ContextText


class StoryboardGenerate(RequestModel):
    """POST /text-to-scene/{storyboard}/prompt. `references` go as strings in the JSON body (a
    NATS command carries no file parts); the API takes at most 5, and at most 3 context pairs."""

    prompt: Prompt
    clip_engine_id: IntId
    duration: DurationRange
    settings: Settings | None = None
    references: Annotated[list[Annotated[str, Field(min_length=1)]], Field(max_length=5)] | None = (
        None
    )
    context: Annotated[list[ContextPair], Field(max_length=3)] | None = None


class StoryboardContext(RequestModel):
    """POST /text-to-scene/{storyboard}/context."""

    prompt: Prompt


class SceneFields(RequestModel):
    """POST .../scenes and PATCH .../scenes/{scene}: every field optional."""

    order: Annotated[int, Field(ge=0, strict=True)] | None = None
    raw_video_prompt: Prompt | None = None
    duration: Annotated[int, Field(ge=1, strict=True)] | None = None


class SceneSort(RequestModel):
    """PUT .../scenes/sort: move `scene_id` after `after_id` (null: to the start)."""

    scene_id: IntId
    after_id: IntId | None = None


class SceneFrames(RequestModel):
    """PUT .../scenes/{scene}/frames: null clears a frame."""

    first_frame_id: IntId | None = None
    last_frame_id: IntId | None = None


class SceneChain(RequestModel):
    """PUT .../scenes/{scene}/chain: the scene whose last frame seeds this one."""

    scene_id: IntId


class ClipRequest(RequestModel):
    id: IntId
    enhance: bool


class StoryboardClips(RequestModel):
    """POST .../clips: at least one scene."""

    scenes: Annotated[list[ClipRequest], Field(min_length=1)]


class Moodboard(RequestModel):
    """POST .../moodboard/upload and .../moodboard/generate."""

    prompt: Prompt
    enhance: bool | None = None
    references: list[IntId] | None = None
