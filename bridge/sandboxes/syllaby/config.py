"""Syllaby sandbox configuration: clock speed, limits, credits, subscription, faults, durations.

The clock, rate-window, seed and fault knobs are the kit's (`bridge.sandboxes.kit.config`).

Durations are in API-seconds (sandbox clock seconds); wall time is that divided by `speed`.

| what                                                            | default | field          |
|-----------------------------------------------------------------|---------|----------------|
| storyboard generating:prompts -> generating:images (scenes appear) | 6 s  | prompts        |
| storyboard generating:images -> ready                           | 4 s     | images         |
| scene clip:queued -> clip:generating                            | 2 s     | clip_queue     |
| scene clip:generating -> clip:completed                         | 8 s     | clip_generate  |
| video rendering -> completed (url set), storyboard processing -> completed | 10 s | render |

Costs (credits): `prompt` per generation, `context` per context expansion, `clip_per_second` per
second of each scene's duration, `moodboard` per generated image, and a render costs
`render_base + render_per_second * the storyboard's total duration` (the reference's example:
scenes of 5, 6 and 5 seconds cost 90).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from bridge.sandboxes.kit.config import BaseSandboxConfig


class SyllabyDurations(BaseModel):
    prompts: float = 6.0
    images: float = 4.0
    clip_queue: float = 2.0
    clip_generate: float = 8.0
    render: float = 10.0


class Costs(BaseModel):
    prompt: int = Field(default=10, ge=0)
    context: int = Field(default=2, ge=0)
    clip_per_second: int = Field(default=2, ge=0)
    moodboard: int = Field(default=4, ge=0)
    render_base: int = Field(default=10, ge=0)
    render_per_second: int = Field(default=5, ge=0)


class Failures(BaseModel):
    """Make the next transitions end in failure (the API's own failures, not injected faults)."""

    generate: bool = False  # storyboard ends `failed` instead of `ready`
    clips: bool = False  # scenes end `clip:failed` with an `error`
    render: bool = False  # video ends `failed` with a `failure`, url null


class SyllabySandboxConfig(BaseSandboxConfig):
    rate_limit_per_minute: int = Field(default=30, ge=1)  # per token, as the API's default
    initial_credits: int = Field(default=1000, ge=0)
    subscribed: bool = True  # False: every endpoint answers 403 SUBSCRIPTION-REQUIRED
    # Any well-formed token (`<id>|<secret>`, as Laravel Sanctum issues them) authenticates; off:
    # only `tokens`.
    accept_any_token: bool = True
    tokens: list[str] = Field(default_factory=list)
    scenes_per_generation: int = Field(default=3, ge=1, le=20)  # scenes a generation writes
    clip_engines: list[int] = Field(default_factory=lambda: list(range(1, 13)))  # known engine ids
    durations: SyllabyDurations = Field(default_factory=SyllabyDurations)
    costs: Costs = Field(default_factory=Costs)
    failures: Failures = Field(default_factory=Failures)
