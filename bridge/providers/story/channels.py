"""The Story API's event subjects (CONTRACT.md's event table and the project additions), for the
AsyncAPI document: `{p}.evt.<base>.<status>`."""

from __future__ import annotations

from bridge.plugins import Channels

# The contract's event table: subject suffix -> statuses.
EVENT_SUBJECTS: dict[str, tuple[str, ...]] = {
    "source": ("pending", "extracting", "ready", "failed"),
    "source.digest": ("pending", "running", "ready", "failed", "skipped"),
    "plan": (
        "pending",
        "running",
        "requires_approval",
        "approved",
        "rejected",
        "failed",
        "superseded",
    ),
    "job": ("pending", "reserved", "running", "partial", "ready", "failed", "canceled"),
    "artifact": ("pending", "running", "ready", "failed"),
    "artifact.finalize": (
        "needs_recording",
        "queued",
        "rendering",
        "uploading",
        "complete",
        "failed",
    ),
    "artifact.video": ("queued", "rendering", "complete", "failed", "stale"),
    "artifact.music": ("generating", "ready"),
    "artifact.coverage": ("generating", "complete", "failed"),
}
# Project additions (docs/CONTRACT.md "Project additions"): facets with parts, and releases.
PROJECT_EVENT_SUBJECTS: dict[str, tuple[str, ...]] = {
    "artifact.voice_modification": ("queued", "rendering", "ready", "failed"),
    "artifact.sfx": ("draft", "ready", "failed"),
    "artifact.avatar": ("queued", "rendering", "ready", "failed"),
    "artifact.music_clips": ("rendering", "settled"),
    "artifact.music_clip": ("failed",),
    "artifact.cast": ("changed",),
    "release": ("draft", "publishing", "published", "failed"),
    "credits": ("low",),
}


def event_type(suffix: str) -> str:
    """The CloudEvent type published on `{p}.evt.<suffix>`."""
    return f"studio.sleeperhit.story.{suffix}"


CHANNELS = Channels(
    subjects={**EVENT_SUBJECTS, **PROJECT_EVENT_SUBJECTS},
    event_type=event_type,
    events=("artifact.revised",),
)
