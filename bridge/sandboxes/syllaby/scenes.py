"""The scenes' store: every storyboard's scenes in order, and each scene's clip machine.

clip machine (per scene, restarted by every POST /clips that names it, charged each time):
    draft | clip:completed | clip:failed --clips--> clip:queued --clip_queue--> clip:generating
        --clip_generate--> clip:completed   (or clip:failed with `error`, its charge refunded)
A restart bumps the scene's `clip_run`, so the earlier run's pending transitions find themselves
stale and do nothing. Chaining, frames and the clip url are kept but not shown on the wire (the
reference's scene object has no such fields); the control API's state shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bridge.sandboxes.kit.scheduler import Scheduler
from bridge.sandboxes.syllaby.account import Account
from bridge.sandboxes.syllaby.config import SyllabySandboxConfig
from bridge.sandboxes.syllaby.errors import not_found
from bridge.sandboxes.syllaby.records import CDN, SyllabyIds, stamp

DEFAULT_DURATION = 5
IN_PROGRESS = ("clip:queued", "clip:generating")


@dataclass
class SceneRec:
    id: int
    uuid: str
    storyboard_id: int
    video_prompt: str | None
    duration: int
    created_at: float
    updated_at: float
    status: str = "draft"
    error: str | None = None
    order: int = 0
    first_frame_id: int | None = None
    last_frame_id: int | None = None
    chained_to: int | None = None
    clip_url: str | None = None
    clip_run: int = 0
    clip_runs: int = 0  # how many times clips were queued: a repeated POST shows here
    deleted: bool = False

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "uuid": self.uuid,
            "order": self.order,
            "video_prompt": self.video_prompt,
            "duration": self.duration,
            "status": self.status,
            "error": self.error,
            "created_at": stamp(self.created_at),
            "updated_at": stamp(self.updated_at),
        }

    def status_view(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "error": self.error}

    def state_view(self) -> dict[str, Any]:
        """Everything, for the control API."""
        return {
            **self.view(),
            "storyboard_id": self.storyboard_id,
            "first_frame_id": self.first_frame_id,
            "last_frame_id": self.last_frame_id,
            "chained_to": self.chained_to,
            "clip_url": self.clip_url,
            "clip_runs": self.clip_runs,
        }


class Scenes:
    def __init__(
        self, ids: SyllabyIds, scheduler: Scheduler, config: SyllabySandboxConfig, account: Account
    ) -> None:
        self.ids = ids
        self.scheduler = scheduler
        self.config = config
        self.account = account
        self._by_id: dict[int, SceneRec] = {}
        self._by_storyboard: dict[int, list[SceneRec]] = {}

    # -- reads ----------------------------------------------------------------------------------

    def of(self, storyboard_id: int) -> list[SceneRec]:
        """The storyboard's live scenes, in order."""
        return list(self._by_storyboard.get(storyboard_id, []))

    def find(self, storyboard_id: int, scene_id: int) -> SceneRec | None:
        rec = self._by_id.get(scene_id)
        if rec is None or rec.deleted or rec.storyboard_id != storyboard_id:
            return None
        return rec

    def by_id(self, scene_id: int) -> SceneRec:
        """Any live scene by id, or 404 (for the control API, which names no storyboard)."""
        rec = self._by_id.get(scene_id)
        if rec is None or rec.deleted:
            raise not_found()
        return rec

    def get(self, storyboard_id: int, scene_id: int) -> SceneRec:
        """404 for a scene that does not exist, was deleted, or belongs to another storyboard."""
        rec = self.find(storyboard_id, scene_id)
        if rec is None:
            raise not_found()
        return rec

    # -- writes ---------------------------------------------------------------------------------

    def add(
        self,
        storyboard_id: int,
        at: float,
        *,
        order: int | None = None,
        prompt: str | None = None,
        duration: int | None = None,
    ) -> SceneRec:
        rec = SceneRec(
            id=self.ids.next("scenes"),
            uuid=self.ids.token("scn"),
            storyboard_id=storyboard_id,
            video_prompt=prompt,
            duration=duration or DEFAULT_DURATION,
            created_at=at,
            updated_at=at,
        )
        self._by_id[rec.id] = rec
        scenes = self._by_storyboard.setdefault(storyboard_id, [])
        scenes.insert(len(scenes) if order is None else min(order, len(scenes)), rec)
        self._renumber(storyboard_id, at)
        return rec

    def replace(self, storyboard_id: int, at: float, prompts: list[tuple[str, int]]) -> None:
        """A generation writes the storyboard's scenes anew: the old ones are gone."""
        for rec in self.of(storyboard_id):
            rec.deleted = True
        self._by_storyboard[storyboard_id] = []
        for prompt, duration in prompts:
            self.add(storyboard_id, at, prompt=prompt, duration=duration)

    def update(
        self,
        rec: SceneRec,
        at: float,
        *,
        order: int | None,
        prompt: str | None,
        duration: int | None,
    ) -> None:
        if prompt is not None:
            rec.video_prompt = prompt
        if duration is not None:
            rec.duration = duration
        if order is not None:
            scenes = self._by_storyboard[rec.storyboard_id]
            scenes.remove(rec)
            scenes.insert(min(order, len(scenes)), rec)
            self._renumber(rec.storyboard_id, at)
        rec.updated_at = at

    def delete(self, rec: SceneRec, at: float) -> None:
        rec.deleted = True
        self._by_storyboard[rec.storyboard_id].remove(rec)
        for other in self._by_storyboard[rec.storyboard_id]:
            if other.chained_to == rec.id:
                other.chained_to = None
        self._renumber(rec.storyboard_id, at)

    def move_after(self, rec: SceneRec, after: SceneRec | None, at: float) -> None:
        scenes = self._by_storyboard[rec.storyboard_id]
        scenes.remove(rec)
        scenes.insert(0 if after is None else scenes.index(after) + 1, rec)
        self._renumber(rec.storyboard_id, at)

    def _renumber(self, storyboard_id: int, at: float) -> None:
        for index, rec in enumerate(self._by_storyboard[storyboard_id]):
            if rec.order != index:
                rec.order = index
                rec.updated_at = at

    # -- the clip machine -----------------------------------------------------------------------

    def clip_cost(self, rec: SceneRec) -> int:
        return self.config.costs.clip_per_second * rec.duration

    def queue_clip(self, rec: SceneRec, at: float, *, enhance: bool) -> None:
        rec.clip_run += 1
        rec.clip_runs += 1
        run, cost = rec.clip_run, self.clip_cost(rec)
        if enhance and rec.video_prompt and not rec.video_prompt.endswith(", cinematic lighting"):
            rec.video_prompt += ", cinematic lighting"
        rec.status, rec.error, rec.clip_url, rec.updated_at = "clip:queued", None, None, at
        durations = self.config.durations
        generating = at + durations.clip_queue

        def start(due: float) -> None:
            if rec.clip_run == run and not rec.deleted:
                rec.status, rec.updated_at = "clip:generating", due

        def finish(due: float) -> None:
            if rec.clip_run != run or rec.deleted:
                return
            rec.updated_at = due
            if self.config.failures.clips:
                rec.status, rec.error = "clip:failed", "Clip generation failed."
                self.account.refund("clips", rec.storyboard_id, cost, due)
            else:
                rec.status = "clip:completed"
                rec.clip_url = f"{CDN}/clips/{rec.uuid}-{run}.mp4"

        self.scheduler.at(generating, start)
        self.scheduler.at(generating + durations.clip_generate, finish)
