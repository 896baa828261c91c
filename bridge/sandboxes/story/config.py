"""Sandbox configuration: clock speed, limits, credits, keys and injected faults.

The clock, rate-window, seed and fault knobs are the kit's (`bridge.sandboxes.kit.config`).

Durations are in API-seconds (sandbox clock seconds); wall time is that divided by `speed`. The
defaults are compressed but keep the real API's order of events (see FIELD-NOTES.md: production
plans take minutes and jobs up to 45 minutes; nobody wants that in a demo):

| what                                   | default | field                 |
|----------------------------------------|---------|-----------------------|
| url/pdf source PENDING -> EXTRACTING -> READY/FAILED | 4 s (2 + 2) | source_extract |
| digest NOT_STARTED -> PENDING -> RUNNING -> READY    | 4 s         | digest         |
| plan PENDING -> RUNNING                | 1 s     | plan_start            |
| plan RUNNING -> REQUIRES_APPROVAL/...  | 20 s    | plan_generate         |
| job RESERVED -> RUNNING                | 2 s     | job_start             |
| job RUNNING -> PARTIAL/READY (spread over its artifacts) | 30 s | job_generate |
| finalize audio, per stage (queued -> rendering -> uploading -> complete) | 3 s | finalize_stage |
| video, per stage (queued -> rendering -> complete)   | 5 s         | video_stage    |
| music generating -> ready              | 6 s     | music                 |
| coverage generating -> complete        | 8 s     | coverage              |
| avatar queued -> rendering -> ready    | 5 s     | avatar                |
| voice modification queued -> ready     | 4 s     | voice_modification    |
| one defined music bed pending -> ready (beds render one after another) | 2 s | music_bed |
| sound-effect cue draft -> sound ready  | 3 s     | sfx                   |
| release publishing -> published        | 4 s     | publish               |
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from bridge.sandboxes.kit.config import BaseSandboxConfig


class StoryDurations(BaseModel):
    """State machine durations in sandbox seconds (divide by `speed` for wall time)."""

    source_extract: float = 4.0
    digest: float = 4.0
    plan_start: float = 1.0
    plan_generate: float = 20.0
    job_start: float = 2.0
    job_generate: float = 30.0
    finalize_stage: float = 3.0
    video_stage: float = 5.0
    music: float = 6.0
    coverage: float = 8.0
    avatar: float = 5.0
    voice_modification: float = 4.0
    music_bed: float = 2.0
    sfx: float = 3.0
    publish: float = 4.0


class StorySandboxConfig(BaseSandboxConfig):
    rate_limit_per_minute: int = Field(default=120, ge=1)
    initial_credits: int = Field(default=1000, ge=0)
    accept_any_key: bool = True  # any well-formed key authenticates (else only minted keys)
    any_key_scopes: list[str] | None = None  # scopes of such keys; None: every scope
    # Keys accepted with exactly these scopes (None: every scope), e.g. from `storybridge sandbox
    # --key`; they authenticate whether or not `accept_any_key` is on.
    keys: dict[str, list[str] | None] = Field(default_factory=dict)
    recording_available: bool = True  # finalize audio finds a recording (else needs_recording)
    quirks: bool = (
        False  # production quirks from FIELD-NOTES.md (see bridge.sandboxes.story.quirks)
    )
    # The seeds document the 409 idempotency_conflict without `details.reason`; the sandbox adds
    # one (`in_progress` / `incompatible_parameters`) unless this is off, to test a client that
    # cannot rely on it.
    conflict_reasons: bool = True
    durations: StoryDurations = Field(default_factory=StoryDurations)
