"""The Syllaby commands of the contract (`syllaby.<resource>.<action>`): path parameters as
`storyboard_id` / `scene_id`, the API's own body field names, plus `commandId`.

A model is the command's data only. Its call (method, route relative to SYLLABY_BASE_URL) and
whether it needs the command ledger are declared once, in its handler row (handlers/syllaby):
Syllaby takes no Idempotency-Key, so a call that changes something and would change it AGAIN when
repeated (every POST and DELETE) is recorded before it is sent and answered from the ledger when it
comes back; reads, PATCHes of fields and PUTs that set a value are sent (and retried on ambiguous
failures) like GETs. The choice per command is the table in README.md ("Syllaby commands").
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from schemas.syllaby import requests as q
from schemas.syllaby.requests import IntId
from schemas.wire.commands import Command


class SyllabyCommand(Command):
    """Base of the Syllaby commands: the path ids and body of one HTTP call."""

    provider: ClassVar[str] = "syllaby"

    def path_values(self) -> dict[str, int]:
        return {name: int(getattr(self, name)) for name in self.path_fields}

    def request_json(self) -> dict[str, Any] | None:
        """The JSON body the API is sent (None: no body)."""
        body = self.body()
        return body.to_body() if body is not None else None

    def fingerprint_data(self) -> dict[str, Any]:
        """What makes two requests under one commandId the same request: the path and the body."""
        return {
            "command": self.command,
            "path": self.path_values(),
            "body": self.request_json(),
        }


class _Storyboard(SyllabyCommand):
    path_fields = ("storyboard_id",)
    storyboard_id: IntId


class _Scene(SyllabyCommand):
    path_fields = ("storyboard_id", "scene_id")
    storyboard_id: IntId
    scene_id: IntId


# --- storyboards ------------------------------------------------------------------------------------
class StoryboardCreateCommand(SyllabyCommand, q.StoryboardCreate):
    """Create a storyboard in draft state (POST /text-to-scene)."""

    command = "syllaby.storyboard.create"
    body_model = q.StoryboardCreate


class StoryboardGetCommand(_Storyboard):
    """Read a storyboard with its video and scenes (GET /text-to-scene/{id})."""

    command = "syllaby.storyboard.get"


class StoryboardUpdateCommand(_Storyboard, q.StoryboardUpdate):
    """Change the render settings; sets values, safe to repeat (PATCH /text-to-scene/{id})."""

    command = "syllaby.storyboard.update"
    body_model = q.StoryboardUpdate


class StoryboardEstimateCommand(_Storyboard):
    """Estimate the render's credits (GET /text-to-scene/{storyboard}/estimate)."""

    command = "syllaby.storyboard.estimate"


class StoryboardGenerateCommand(_Storyboard, q.StoryboardGenerate):
    """Generate the storyboard from its prompt; charges credits (POST /text-to-scene/{storyboard}/prompt)."""

    command = "syllaby.storyboard.generate"
    body_model = q.StoryboardGenerate


class StoryboardContextCommand(_Storyboard, q.StoryboardContext):
    """Generate narrative context; charges credits (POST /text-to-scene/{storyboard}/context)."""

    command = "syllaby.storyboard.context"
    body_model = q.StoryboardContext


class StoryboardRenderCommand(_Storyboard):
    """Render the storyboard into a video; charges credits (POST /text-to-scene/{storyboard}/render)."""

    command = "syllaby.storyboard.render"


class StoryboardGenerateClipsCommand(_Storyboard, q.StoryboardClips):
    """Queue clip generation for the named scenes; charges credits (POST /text-to-scene/{storyboard}/clips)."""

    command = "syllaby.storyboard.generate_clips"
    body_model = q.StoryboardClips


# --- scenes ------------------------------------------------------------------------------------------
class SceneCreateCommand(_Storyboard, q.SceneFields):
    """Add a scene (POST /text-to-scene/{storyboard}/scenes)."""

    command = "syllaby.scene.create"
    body_model = q.SceneFields


class SceneUpdateCommand(_Scene, q.SceneFields):
    """Change a scene's order, prompt or duration; sets values (PATCH /text-to-scene/{storyboard}/scenes/{scene})."""

    command = "syllaby.scene.update"
    body_model = q.SceneFields


class SceneDeleteCommand(_Scene):
    """Delete a scene (DELETE /text-to-scene/{storyboard}/scenes/{scene})."""

    command = "syllaby.scene.delete"


class SceneStatusCommand(_Scene):
    """Read one scene's clip status (GET /text-to-scene/{storyboard}/scenes/{scene}/status)."""

    command = "syllaby.scene.status"


class SceneSortCommand(_Storyboard, q.SceneSort):
    """Move a scene after another; the same move twice is one order (PUT /text-to-scene/{storyboard}/scenes/sort).

    `scene_id` here is the API's body field (the scene to move): this call has no scene in its path.
    """

    command = "syllaby.scene.sort"
    body_model = q.SceneSort


class SceneFramesCommand(_Scene, q.SceneFrames):
    """Set or clear a scene's first/last frame (PUT /text-to-scene/{storyboard}/scenes/{scene}/frames)."""

    command = "syllaby.scene.frames"
    body_model = q.SceneFrames


class SceneChainCommand(_Scene):
    """Chain a scene to another (PUT /text-to-scene/{storyboard}/scenes/{scene}/chain).

    The API's body field `scene_id` (the scene whose last frame seeds this one) collides with the
    path parameter `scene_id` (the scene being chained): it is sent as `chain_scene_id`.
    """

    command = "syllaby.scene.chain"
    body_model = q.SceneChain
    chain_scene_id: IntId = Field(description="The API's body `scene_id`: the scene chained to.")

    def request_json(self) -> dict[str, Any] | None:
        extra = dict(self.model_extra or {})
        return {"scene_id": self.chain_scene_id, **extra}


class SceneUnchainCommand(_Scene):
    """Remove a scene's chain (DELETE /text-to-scene/{storyboard}/scenes/{scene}/chain)."""

    command = "syllaby.scene.unchain"


# --- moodboards --------------------------------------------------------------------------------------
class MoodboardUploadCommand(_Storyboard, q.Moodboard):
    """Attach moodboard references (POST /text-to-scene/{storyboard}/moodboard/upload)."""

    command = "syllaby.moodboard.upload"
    body_model = q.Moodboard


class MoodboardGenerateCommand(_Storyboard, q.Moodboard):
    """Generate a moodboard image; charges credits (POST /text-to-scene/{storyboard}/moodboard/generate)."""

    command = "syllaby.moodboard.generate"
    body_model = q.Moodboard


SYLLABY_COMMANDS: tuple[type[SyllabyCommand], ...] = (
    StoryboardCreateCommand,
    StoryboardGetCommand,
    StoryboardUpdateCommand,
    StoryboardEstimateCommand,
    StoryboardGenerateCommand,
    StoryboardContextCommand,
    StoryboardRenderCommand,
    StoryboardGenerateClipsCommand,
    SceneCreateCommand,
    SceneUpdateCommand,
    SceneDeleteCommand,
    SceneStatusCommand,
    SceneSortCommand,
    SceneFramesCommand,
    SceneChainCommand,
    SceneUnchainCommand,
    MoodboardUploadCommand,
    MoodboardGenerateCommand,
)
"""Every Syllaby command, registered beside the Story API's in `COMMAND_MODELS`."""
