"""The reference's request bodies with its limits (lengths, counts, allowed values)."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class StoryboardCreate(Body):
    title: str = Field(min_length=1, max_length=255)
    mode: Literal["wizard", "manual"]


class Settings(Body):
    audio: bool | None = None
    aspect_ratio: str | None = Field(default=None, min_length=1, max_length=20)
    resolution: str | None = Field(default=None, min_length=1, max_length=20)


class StoryboardUpdate(Body):
    settings: Settings | None = None


class DurationRange(Body):
    min: int = Field(ge=1)
    max: int = Field(ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.max < self.min:
            raise ValueError(
                "The duration.max field must be greater than or equal to duration.min."
            )
        return self


class ContextPair(Body):
    key: Literal["purpose", "style", "audience"]
    question: str = Field(min_length=1, max_length=500)
    answer: str = Field(min_length=1, max_length=500)


class PromptGenerate(Body):
    prompt: str = Field(min_length=1, max_length=5000)
    clip_engine_id: int
    duration: DurationRange
    settings: Settings | None = None
    # JSON bodies name references; multipart ones carry the files (their names are kept here).
    references: list[str] | None = Field(default=None, max_length=5)
    context: list[ContextPair] | None = Field(default=None, max_length=3)


class ContextGenerate(Body):
    prompt: str = Field(min_length=1, max_length=5000)


class SceneWrite(Body):
    order: int | None = Field(default=None, ge=0)
    raw_video_prompt: str | None = Field(default=None, max_length=5000)
    duration: int | None = Field(default=None, ge=1)


class ScenesSort(Body):
    scene_id: int
    after_id: int | None = None


class Frames(Body):
    first_frame_id: int | None = None
    last_frame_id: int | None = None


class Chain(Body):
    scene_id: int


class ClipScene(Body):
    id: int
    enhance: bool


class ClipsGenerate(Body):
    scenes: list[ClipScene] = Field(min_length=1)


class MoodboardPrompt(Body):
    prompt: str = Field(min_length=1, max_length=5000)
    enhance: bool | None = None
    references: list[int] | None = None
