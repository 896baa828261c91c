"""Syllaby Text-to-Scene resources as the API returns them: tolerant (unknown fields kept, missing
optional ones allowed), since the reference does not enumerate every status or field."""

from __future__ import annotations

from typing import Any

from schemas.wire.base import ApiModel


class StoryboardSettings(ApiModel):
    audio: bool | None = None
    aspect_ratio: str | None = None
    resolution: str | None = None


class Video(ApiModel):
    """The storyboard's render. Before any render the reference already shows `status:
    "rendering"` with `url: null`: only a set `url` (or a failed status) ends a render."""

    id: int | None = None
    user_id: int | None = None
    title: str | None = None
    type: str | None = None
    url: str | None = None
    status: str | None = None
    retries: int | None = None
    hash: str | None = None
    failure: Any = None
    metadata: dict[str, Any] | None = None
    created_at: str | None = None
    updated_at: str | None = None


class Scene(ApiModel):
    id: int
    uuid: str | None = None
    order: int | None = None
    video_prompt: str | None = None
    duration: int | None = None
    status: str | None = None
    error: Any = None
    created_at: str | None = None
    updated_at: str | None = None


class SceneStatus(ApiModel):
    """GET .../scenes/{scene}/status."""

    id: int
    status: str | None = None
    error: Any = None


class Storyboard(ApiModel):
    id: int
    uuid: str | None = None
    status: str | None = None
    prompt: str | None = None
    settings: StoryboardSettings | None = None
    duration: list[int] | None = None
    video: Video | None = None
    scenes: list[Scene] | None = None
    created_at: str | None = None
    updated_at: str | None = None


class MoodboardEntry(ApiModel):
    id: int | None = None
    asset_id: int | None = None
    source: str | None = None
    type: str | None = None
    status: str | None = None
    url: str | None = None
    created_at: str | None = None


class Estimate(ApiModel):
    required: int | None = None
    available: int | None = None
    sufficient: bool | None = None


class RenderCredits(ApiModel):
    cost: int | None = None
    remaining: int | None = None


class Envelope(ApiModel):
    """Every answer: `{message, status, data, meta?}`; `data` parsed per endpoint by the client."""

    message: str | None = None
    status: int | None = None
    data: Any = None
    meta: dict[str, Any] | None = None

    @property
    def credits(self) -> RenderCredits | None:
        """`meta.credits` of a render: the cost and the balance left."""
        raw = (self.meta or {}).get("credits")
        return RenderCredits.model_validate(raw) if isinstance(raw, dict) else None
