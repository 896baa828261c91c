"""The storyboards' store: each storyboard, its embedded video, and their two machines.

storyboard (POST /prompt restarts it and charges again each time):
    wizard | draft | ready | failed | completed --prompt--> generating:prompts
        --prompts--> generating:images (the scenes are written) --images--> ready
                                                                  (or failed, charge refunded)
    ready | completed --render--> processing --render--> completed (or back to ready on failure)
video (one per storyboard, made with it):
    the reference's quirk: a storyboard never rendered already shows `status: rendering` with
    `url: null`; --render--> rendering, url null --render--> completed, url set
                                                          (or failed with `failure`, refunded)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bridge.sandboxes.kit.scheduler import Scheduler
from bridge.sandboxes.syllaby.account import Account
from bridge.sandboxes.syllaby.config import SyllabySandboxConfig
from bridge.sandboxes.syllaby.errors import not_found
from bridge.sandboxes.syllaby.records import CDN, SyllabyIds, stamp
from bridge.sandboxes.syllaby.scenes import SceneRec, Scenes

DEFAULT_SETTINGS: dict[str, Any] = {"audio": True, "aspect_ratio": "16:9", "resolution": "1080p"}
GENERATING = ("generating:prompts", "generating:images")
USER_ID = 1


@dataclass
class VideoRec:
    id: int
    hash: str
    title: str
    created_at: float
    updated_at: float
    status: str = "rendering"  # the quirk: before any render
    url: str | None = None
    synced_at: float | None = None
    failure: dict[str, Any] | None = None
    renders: int = 0  # renders started: a repeated POST /render shows here
    rendering: bool = False  # a render is really under way (not the quirk's "rendering")

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user_id": USER_ID,
            "idea_id": None,
            "scheduler_id": None,
            "title": self.title,
            "type": "text_to_scene",
            "url": self.url,
            "status": self.status,
            "retries": 0,
            "hash": self.hash,
            "synced_at": None if self.synced_at is None else stamp(self.synced_at),
            "metadata": {"ai_labels": True, "custom_description": None},
            "failure": self.failure,
            "created_at": stamp(self.created_at),
            "updated_at": stamp(self.updated_at),
        }


@dataclass
class StoryboardRec:
    id: int
    uuid: str
    title: str
    mode: str
    status: str
    video: VideoRec
    created_at: float
    updated_at: float
    prompt: str | None = None
    settings: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_SETTINGS))
    clip_engine_id: int | None = None
    generation: int = 0  # bumps per POST /prompt, so a restarted run's old transitions skip
    generations: int = 0
    contexts: list[str] = field(default_factory=list)

    def view(self, scenes: list[SceneRec]) -> dict[str, Any]:
        return {
            "id": self.id,
            "uuid": self.uuid,
            "status": self.status,
            "prompt": self.prompt,
            "settings": dict(self.settings),
            "duration": [s.duration for s in scenes],
            "video": self.video.view(),
            "scenes": [s.view() for s in scenes],
            "created_at": stamp(self.created_at),
            "updated_at": stamp(self.updated_at),
        }


class Storyboards:
    def __init__(
        self,
        ids: SyllabyIds,
        scheduler: Scheduler,
        config: SyllabySandboxConfig,
        account: Account,
        scenes: Scenes,
    ) -> None:
        self.ids = ids
        self.scheduler = scheduler
        self.config = config
        self.account = account
        self.scenes = scenes
        self.records: dict[int, StoryboardRec] = {}

    def create(self, title: str, mode: str, at: float) -> StoryboardRec:
        video = VideoRec(
            id=self.ids.next("videos"),
            hash=self.ids.token(),
            title=title,
            created_at=at,
            updated_at=at,
        )
        rec = StoryboardRec(
            id=self.ids.next("storyboards"),
            uuid=self.ids.token("sb"),
            title=title,
            mode=mode,
            status="wizard" if mode == "wizard" else "draft",
            video=video,
            created_at=at,
            updated_at=at,
        )
        self.records[rec.id] = rec
        return rec

    def get(self, storyboard_id: int) -> StoryboardRec:
        rec = self.records.get(storyboard_id)
        if rec is None:
            raise not_found()
        return rec

    def view(self, rec: StoryboardRec) -> dict[str, Any]:
        return rec.view(self.scenes.of(rec.id))

    def render_cost(self, rec: StoryboardRec) -> int:
        costs = self.config.costs
        return costs.render_base + costs.render_per_second * sum(
            s.duration for s in self.scenes.of(rec.id)
        )

    # -- the generation machine -----------------------------------------------------------------

    def generate(
        self, rec: StoryboardRec, at: float, *, prompt: str, minimum: int, engine: int, cost: int
    ) -> None:
        rec.generation += 1
        rec.generations += 1
        run = rec.generation
        rec.prompt, rec.clip_engine_id = prompt, engine
        rec.status, rec.updated_at = "generating:prompts", at
        durations = self.config.durations
        images = at + durations.prompts

        def prompts_done(due: float) -> None:
            if rec.generation != run:
                return
            self.scenes.replace(rec.id, due, self._script(prompt, minimum))
            rec.status, rec.updated_at = "generating:images", due

        def images_done(due: float) -> None:
            if rec.generation != run:
                return
            rec.updated_at = due
            if self.config.failures.generate:
                rec.status = "failed"
                self.account.refund("prompt", rec.id, cost, due)
            else:
                rec.status = "ready"

        self.scheduler.at(images, prompts_done)
        self.scheduler.at(images + durations.images, images_done)

    def _script(self, prompt: str, minimum: int) -> list[tuple[str, int]]:
        """The generated scenes: prompts from the source prompt, durations adding up to `minimum`."""
        count = self.config.scenes_per_generation
        base, extra = divmod(max(minimum, count), count)
        topic = prompt.strip().rstrip(".")[:80]
        return [
            (f"Scene {i + 1} of {count}: {topic}.", base + (1 if i < extra else 0))
            for i in range(count)
        ]

    # -- the render machine ---------------------------------------------------------------------

    def render(self, rec: StoryboardRec, at: float, *, cost: int) -> None:
        video = rec.video
        video.renders += 1
        render = video.renders
        video.rendering = True
        video.status, video.url, video.failure, video.updated_at = "rendering", None, None, at
        rec.status, rec.updated_at = "processing", at

        def done(due: float) -> None:
            if video.renders != render:
                return
            video.rendering = False
            video.updated_at = rec.updated_at = due
            if self.config.failures.render:
                video.status = "failed"
                video.failure = {"code": "render_failed", "message": "The render failed."}
                rec.status = "ready"
                self.account.refund("render", rec.id, cost, due)
            else:
                video.status, video.synced_at = "completed", due
                video.url = f"{CDN}/videos/{video.hash}-{render}.mp4"
                rec.status = "completed"

        self.scheduler.at(at + self.config.durations.render, done)
