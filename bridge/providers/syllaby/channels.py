"""Syllaby's event subjects for the AsyncAPI document (CONTRACT.md, "Syllaby")."""

from __future__ import annotations

from bridge.plugins import Channels

# The second provider (CONTRACT.md, "Syllaby"): the reference enumerates no statuses, so these are
# the ones it and the sandbox show (lower case, `:` as `_`); any other status the API reports is
# published too, on the `*` channel of its resource and facet.
SYLLABY_EVENT_SUBJECTS: dict[str, tuple[str, ...]] = {
    "syllaby.storyboard": (
        "wizard",
        "manual",
        "draft",
        "generating_prompts",
        "generating_images",
        "ready",
        "processing",
        "completed",
        "failed",
    ),
    "syllaby.storyboard.video": ("rendering", "completed", "failed"),
    "syllaby.scene": ("draft", "clip_queued", "clip_generating", "clip_completed", "clip_failed"),
}


def event_type(suffix: str) -> str:
    """The CloudEvent type published on `{p}.evt.<suffix>`."""
    return "io.syllaby." + suffix.removeprefix("syllaby.")


CHANNELS = Channels(
    subjects=SYLLABY_EVENT_SUBJECTS,
    event_type=event_type,
    open_bases=tuple(SYLLABY_EVENT_SUBJECTS),
    open_description=(
        "for any status Syllaby reports (lower case, `:` as `_`; `data.status` keeps the API's "
        "value). In progress: generating*, processing, queued, rendering, clip:queued, "
        "clip:generating; anything else settles the facet (a video: only its url, or a failed "
        "status)."
    ),
)
