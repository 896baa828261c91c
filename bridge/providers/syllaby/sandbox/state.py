"""Everything one Syllaby sandbox remembers: clock, world, tokens, limits, faults, request log."""

from __future__ import annotations

from bridge.providers.syllaby.sandbox.auth import Tokens
from bridge.providers.syllaby.sandbox.config import SyllabySandboxConfig
from bridge.providers.syllaby.sandbox.ratelimit import SyllabyRateLimiter
from bridge.providers.syllaby.sandbox.world import SyllabyWorld
from bridge.sandboxkit.clock import SandboxClock
from bridge.sandboxkit.faults import Faults
from bridge.sandboxkit.ratewindow import FixedWindows
from bridge.sandboxkit.requestlog import RequestLog


class SyllabySandboxState:
    """One per app (`app.state.sandbox`, `SyllabySandboxServer.state`)."""

    def __init__(self, config: SyllabySandboxConfig) -> None:
        self.config = config
        self.clock = SandboxClock(config.speed, manual=config.manual_clock)
        self.world = SyllabyWorld(config, self.clock)
        self.tokens = Tokens(config.accept_any_token, config.tokens)
        windows = FixedWindows(config.rate_limit_per_minute, config.rate_limit_window_seconds)
        self.limiter = SyllabyRateLimiter(windows)
        self.faults = Faults(config.faults, config.seed)
        self.log = RequestLog()

    def reset(self) -> None:
        """A fresh world (storyboards, credits, subscription, ids) and rate windows; tokens,
        faults and the log are kept."""
        self.world = SyllabyWorld(self.config, self.clock)
        self.limiter.reset()
