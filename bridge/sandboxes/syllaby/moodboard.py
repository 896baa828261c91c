"""The moodboards' store: reference images per storyboard, uploaded or generated.

The reference shows both answers already `success` (upload 201, generate 202) and has no read
for a moodboard, so entries are final when made; the control API's state lists them.

An entry is a `MoodboardRec`, the sandbox's own record as `StoryboardRec` and `SceneRec` are, not
the bridge's `schemas.syllaby.resources.MoodboardEntry`: the sandbox plays the vendor and renders
its answers from the reference, so a mistake in the bridge's model cannot hide behind it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bridge.sandboxes.syllaby.records import CDN, SyllabyIds, stamp


@dataclass(frozen=True)
class MoodboardRec:
    id: int
    storyboard_id: int
    asset_id: int
    source: str  # "upload" or "generated"
    prompt: str
    created_at: float

    def view(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "asset_id": self.asset_id,
            "source": self.source,
            "type": "ai-image",
            "status": "success",
            "url": f"{CDN}/moodboard/{self.id}.png",
            "created_at": stamp(self.created_at),
        }


class Moodboards:
    def __init__(self, ids: SyllabyIds) -> None:
        self.ids = ids
        self.entries: dict[int, list[MoodboardRec]] = {}

    def _add(
        self, storyboard_id: int, asset_id: int, source: str, prompt: str, at: float
    ) -> MoodboardRec:
        entry = MoodboardRec(
            self.ids.next("moodboard"), storyboard_id, asset_id, source, prompt, at
        )
        self.entries.setdefault(storyboard_id, []).append(entry)
        return entry

    def upload(
        self, storyboard_id: int, prompt: str, references: list[int], at: float
    ) -> list[MoodboardRec]:
        """One entry per referenced asset; with none, one new asset for the prompt."""
        assets = references or [self.ids.next("assets") + 1000]
        return [self._add(storyboard_id, asset, "upload", prompt, at) for asset in assets]

    def generate(self, storyboard_id: int, prompt: str, at: float) -> MoodboardRec:
        return self._add(storyboard_id, self.ids.next("assets") + 1000, "generated", prompt, at)

    def of(self, storyboard_id: int) -> list[MoodboardRec]:
        return list(self.entries.get(storyboard_id, []))
