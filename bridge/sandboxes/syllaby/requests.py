"""The reference's request bodies with its limits (lengths, counts, allowed values), as the vendor
validates them.

Independent of the bridge's own client models (`schemas.syllaby.requests`) on purpose, and named
`Vendor*` so the two never pass for one another: the sandbox plays Syllaby, an oracle written
from the reference alone. Were it to reuse the bridge's models, a wrong limit or field there would
be accepted here too, and the tests could not catch it.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator


class VendorBody(BaseModel):
    model_config = ConfigDict(extra="ignore")


class VendorStoryboardCreate(VendorBody):
    title: str = Field(min_length=1, max_length=255)
    mode: Literal["wizard", "manual"]


class VendorSettings(VendorBody):
    audio: bool | None = None
    aspect_ratio: str | None = Field(default=None, min_length=1, max_length=20)
    resolution: str | None = Field(default=None, min_length=1, max_length=20)


class VendorStoryboardUpdate(VendorBody):
    settings: VendorSettings | None = None


class VendorDurationRange(VendorBody):
    min: int = Field(ge=1)
    max: int = Field(ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.max < self.min:
            raise ValueError(
                "The duration.max field must be greater than or equal to duration.min."
            )
        return self


class VendorContextPair(VendorBody):
    key: Literal["purpose", "style", "audience"]
    question: str = Field(min_length=1, max_length=500)
    answer: str = Field(min_length=1, max_length=500)


class VendorPromptGenerate(VendorBody):
    prompt: str = Field(min_length=1, max_length=5000)
    clip_engine_id: int
    duration: VendorDurationRange
    settings: VendorSettings | None = None
    # JSON bodies name references; multipart ones carry the files (their names are kept here).
    references: list[str] | None = Field(default=None, max_length=5)
    context: list[VendorContextPair] | None = Field(default=None, max_length=3)


class VendorContextGenerate(VendorBody):
    prompt: str = Field(min_length=1, max_length=5000)


class VendorSceneWrite(VendorBody):
    order: int | None = Field(default=None, ge=0)
    raw_video_prompt: str | None = Field(default=None, max_length=5000)
    duration: int | None = Field(default=None, ge=1)


class VendorScenesSort(VendorBody):
    scene_id: int
    after_id: int | None = None


class VendorFrames(VendorBody):
    first_frame_id: int | None = None
    last_frame_id: int | None = None


class VendorChain(VendorBody):
    scene_id: int


class VendorClipScene(VendorBody):
    id: int
    enhance: bool


class VendorClipsGenerate(VendorBody):
    scenes: list[VendorClipScene] = Field(min_length=1)


class VendorMoodboardPrompt(VendorBody):
    prompt: str = Field(min_length=1, max_length=5000)
    enhance: bool | None = None
    references: list[int] | None = None
