"""What every sandbox's configuration has: the knobs of the kit's clock, rate windows and faults.

Each provider's config extends `BaseSandboxConfig` with its API's own: its request budget per
window (`rate_limit_per_minute`, a different default per API), credits, credentials, durations.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from bridge.plugins import SandboxOptions
from bridge.sandboxes.kit.faults import FaultRule


class BaseSandboxConfig(BaseModel):
    speed: float = Field(default=1.0, gt=0)  # clock multiplier: 10 = everything 10x faster
    manual_clock: bool = False  # time moves only through POST /_sandbox/clock/advance
    rate_limit_window_seconds: float = Field(default=60.0, gt=0)  # wall seconds per window
    seed: int = 0  # ids, tokens and fault decisions repeat for a seed
    faults: list[FaultRule] = Field(default_factory=list)


def knobs_given(options: SandboxOptions) -> dict[str, Any]:
    """The config fields `storybridge sandbox` sets for every sandbox (clock, faults, seed, rate
    limit, credits); what was not given is left out, so it keeps the sandbox's own default (the
    rate limit: its API's own)."""
    given = {
        "speed": options.speed,
        "faults": options.faults,
        "seed": options.seed,
        "rate_limit_per_minute": options.rate_limit,
        "initial_credits": options.credits,
    }
    return {name: value for name, value in given.items() if value is not None}
