"""The Syllaby account in memory: one store per resource, and the operations that span them.

`SyllabyWorld` holds the account (credits, subscription), the storyboards (with their videos),
the scenes and the moodboards; each store owns its records and transitions. An operation here
takes the world lock, applies every transition due by the sandbox clock, then checks in the API's
order (the storyboard exists, the body's `exists` rules, preconditions 403, credits 402) before
any effect: a refused call changes nothing, an accepted one charges and acts at once. Nothing is
idempotent: the same call twice charges twice and acts twice, as the reference says.
"""

from __future__ import annotations

import threading
from typing import Any

from bridge.sandboxes.kit.clock import SandboxClock
from bridge.sandboxes.kit.scheduler import Scheduler
from bridge.sandboxes.syllaby import requests as q
from bridge.sandboxes.syllaby.account import Account
from bridge.sandboxes.syllaby.config import SyllabySandboxConfig
from bridge.sandboxes.syllaby.errors import forbidden
from bridge.sandboxes.syllaby.moodboard import Moodboards
from bridge.sandboxes.syllaby.records import SyllabyIds
from bridge.sandboxes.syllaby.scenes import SceneRec, Scenes
from bridge.sandboxes.syllaby.storyboards import GENERATING, StoryboardRec, Storyboards
from bridge.sandboxes.syllaby.validation import selected_invalid

SCRIPT_REQUIRED = "A script is required before rendering."
VIDEO_BUSY = "The video is busy."
STILL_GENERATING = "The storyboard is still generating."


class SyllabyWorld:
    def __init__(self, config: SyllabySandboxConfig, clock: SandboxClock) -> None:
        self.config = config
        self.clock = clock
        self.lock = threading.RLock()
        self.ids = SyllabyIds(config.seed)
        self.scheduler = Scheduler()
        self.account = Account(self.ids, config.initial_credits, config.subscribed)
        self.scenes = Scenes(self.ids, self.scheduler, config, self.account)
        self.storyboards = Storyboards(self.ids, self.scheduler, config, self.account, self.scenes)
        self.moodboards = Moodboards(self.ids)

    def sync(self) -> float:
        """Apply every transition due by now; first in every operation."""
        now = self.clock.now()
        self.scheduler.run_until(now)
        return now

    # -- storyboards ----------------------------------------------------------------------------

    def storyboard(self, storyboard_id: int) -> StoryboardRec:
        """The storyboard, or 404: checked before the body, as route binding is in Laravel."""
        with self.lock:
            self.sync()
            return self.storyboards.get(storyboard_id)

    def create_storyboard(self, req: q.VendorStoryboardCreate) -> dict[str, Any]:
        with self.lock:
            now = self.sync()
            return self.storyboards.view(self.storyboards.create(req.title, req.mode, now))

    def get_storyboard(self, rec: StoryboardRec) -> dict[str, Any]:
        with self.lock:
            self.sync()
            return self.storyboards.view(rec)

    def update_storyboard(
        self, rec: StoryboardRec, req: q.VendorStoryboardUpdate
    ) -> dict[str, Any]:
        with self.lock:
            now = self.sync()
            if req.settings is not None:
                rec.settings.update(req.settings.model_dump(exclude_none=True))
                rec.updated_at = now
            return self.storyboards.view(rec)

    def generate(self, rec: StoryboardRec, req: q.VendorPromptGenerate) -> dict[str, Any]:
        with self.lock:
            now = self.sync()
            if req.clip_engine_id not in self.config.clip_engines:
                raise selected_invalid("clip_engine_id")
            if rec.video.rendering:
                raise forbidden(VIDEO_BUSY)
            cost = self.config.costs.prompt
            self.account.charge("prompt", rec.id, cost, now)
            if req.settings is not None:
                rec.settings.update(req.settings.model_dump(exclude_none=True))
            self.storyboards.generate(
                rec,
                now,
                prompt=req.prompt,
                minimum=req.duration.min,
                engine=req.clip_engine_id,
                cost=cost,
            )
            return self.storyboards.view(rec)

    def context(self, rec: StoryboardRec, req: q.VendorContextGenerate) -> str:
        with self.lock:
            now = self.sync()
            self.account.charge("context", rec.id, self.config.costs.context, now)
            topic = req.prompt.strip().rstrip(".")
            text = f"{topic}: told in three movements, from first light to the deep unknown."
            rec.contexts.append(text)
            return text

    def estimate(self, rec: StoryboardRec) -> dict[str, Any]:
        with self.lock:
            self.sync()
            required = self.storyboards.render_cost(rec)
            available = self.account.balance
            return {
                "required": required,
                "available": available,
                "sufficient": available >= required,
            }

    def render(self, rec: StoryboardRec) -> tuple[dict[str, Any], dict[str, Any]]:
        """(storyboard, meta): the meta carries the charge, `{credits: {cost, remaining}}`."""
        with self.lock:
            now = self.sync()
            scenes = self.scenes.of(rec.id)
            if rec.status in GENERATING:
                raise forbidden(STILL_GENERATING)
            if not scenes or any(not s.video_prompt for s in scenes):
                raise forbidden(SCRIPT_REQUIRED)
            if rec.video.rendering:
                raise forbidden(VIDEO_BUSY)
            cost = self.storyboards.render_cost(rec)
            self.account.charge("render", rec.id, cost, now)
            self.storyboards.render(rec, now, cost=cost)
            meta = {"credits": {"cost": cost, "remaining": self.account.balance}}
            return self.storyboards.view(rec), meta

    # -- scenes ---------------------------------------------------------------------------------

    def scene(self, rec: StoryboardRec, scene_id: int) -> SceneRec:
        with self.lock:
            self.sync()
            return self.scenes.get(rec.id, scene_id)

    def add_scene(self, rec: StoryboardRec, req: q.VendorSceneWrite) -> dict[str, Any]:
        with self.lock:
            now = self.sync()
            scene = self.scenes.add(
                rec.id, now, order=req.order, prompt=req.raw_video_prompt, duration=req.duration
            )
            return scene.view()

    def update_scene(self, scene: SceneRec, req: q.VendorSceneWrite) -> dict[str, Any]:
        with self.lock:
            now = self.sync()
            self.scenes.update(
                scene, now, order=req.order, prompt=req.raw_video_prompt, duration=req.duration
            )
            return scene.view()

    def delete_scene(self, scene: SceneRec) -> None:
        with self.lock:
            self.scenes.delete(scene, self.sync())

    def scene_status(self, scene: SceneRec) -> dict[str, Any]:
        with self.lock:
            self.sync()
            return scene.status_view()

    def sort_scenes(self, rec: StoryboardRec, req: q.VendorScenesSort) -> None:
        with self.lock:
            now = self.sync()
            scene = self.scenes.find(rec.id, req.scene_id)
            if scene is None:
                raise selected_invalid("scene_id")
            after = None
            if req.after_id is not None:
                after = self.scenes.find(rec.id, req.after_id)
                if after is None or after is scene:
                    raise selected_invalid("after_id")
            self.scenes.move_after(scene, after, now)

    def frames(self, scene: SceneRec, req: q.VendorFrames) -> dict[str, Any]:
        with self.lock:
            now = self.sync()
            # Only the fields sent change; a null sent clears its frame.
            if "first_frame_id" in req.model_fields_set:
                scene.first_frame_id = req.first_frame_id
            if "last_frame_id" in req.model_fields_set:
                scene.last_frame_id = req.last_frame_id
            scene.updated_at = now
            return scene.view()

    def chain(self, scene: SceneRec, req: q.VendorChain) -> dict[str, Any]:
        with self.lock:
            now = self.sync()
            target = self.scenes.find(scene.storyboard_id, req.scene_id)
            if target is None or target is scene:
                raise selected_invalid("scene_id")
            scene.chained_to, scene.updated_at = target.id, now
            return scene.view()

    def unchain(self, scene: SceneRec) -> dict[str, Any]:
        with self.lock:
            now = self.sync()
            scene.chained_to, scene.updated_at = None, now
            return scene.view()

    def generate_clips(
        self, rec: StoryboardRec, req: q.VendorClipsGenerate
    ) -> list[dict[str, Any]]:
        with self.lock:
            now = self.sync()
            named: dict[int, tuple[SceneRec, bool]] = {}
            for index, item in enumerate(req.scenes):
                scene = self.scenes.find(rec.id, item.id)
                if scene is None:
                    raise selected_invalid(f"scenes.{index}.id")
                named.setdefault(scene.id, (scene, item.enhance))
            if rec.status in GENERATING:
                raise forbidden(STILL_GENERATING)
            for scene, _ in named.values():
                if not scene.video_prompt:
                    raise forbidden(f"Scene {scene.id} has no video prompt.")
            cost = sum(self.scenes.clip_cost(scene) for scene, _ in named.values())
            self.account.charge("clips", rec.id, cost, now)
            for scene, enhance in named.values():
                self.scenes.queue_clip(scene, now, enhance=enhance)
            return [scene.view() for scene, _ in named.values()]

    # -- moodboards -----------------------------------------------------------------------------

    def moodboard_upload(
        self, rec: StoryboardRec, req: q.VendorMoodboardPrompt
    ) -> list[dict[str, Any]]:
        with self.lock:
            now = self.sync()
            entries = self.moodboards.upload(rec.id, req.prompt, req.references or [], now)
            return [e.view() for e in entries]

    def moodboard_generate(
        self, rec: StoryboardRec, req: q.VendorMoodboardPrompt
    ) -> dict[str, Any]:
        with self.lock:
            now = self.sync()
            self.account.charge("moodboard", rec.id, self.config.costs.moodboard, now)
            return self.moodboards.generate(rec.id, req.prompt, now).view()

    # -- the control API ------------------------------------------------------------------------

    def override_storyboard(self, storyboard_id: int, fields: dict[str, Any]) -> dict[str, Any]:
        """Set `status`, `video_status`, `video_url` as given: statuses the reference does not
        list (the bridge must publish them), or a video in a state no machine here reaches.
        Pending transitions still apply when due."""
        with self.lock:
            now = self.sync()
            rec = self.storyboards.get(storyboard_id)
            if "status" in fields:
                rec.status = str(fields["status"])
            if "video_status" in fields:
                rec.video.status = str(fields["video_status"])
            if "video_url" in fields:
                url = fields["video_url"]
                rec.video.url = None if url is None else str(url)
            rec.updated_at = rec.video.updated_at = now
            return self.storyboards.view(rec)

    def override_scene(self, scene_id: int, fields: dict[str, Any]) -> dict[str, Any]:
        """Set a scene's `status` and `error` as given (see `override_storyboard`)."""
        with self.lock:
            now = self.sync()
            scene = self.scenes.by_id(scene_id)
            if "status" in fields:
                scene.status = str(fields["status"])
            if "error" in fields:
                scene.error = None if fields["error"] is None else str(fields["error"])
            scene.updated_at = now
            return scene.view()

    def state_view(self) -> dict[str, Any]:
        with self.lock:
            self.sync()
            boards = []
            for rec in self.storyboards.records.values():
                boards.append(
                    {
                        **self.storyboards.view(rec),
                        "mode": rec.mode,
                        "title": rec.title,
                        "generations": rec.generations,
                        "renders": rec.video.renders,
                        "contexts": list(rec.contexts),
                        "scene_details": [s.state_view() for s in self.scenes.of(rec.id)],
                        "moodboard": [e.view() for e in self.moodboards.of(rec.id)],
                    }
                )
            return {"account": self.account.view(), "storyboards": boards}
