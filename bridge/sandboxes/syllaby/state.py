"""Everything one Syllaby sandbox remembers: clock, world, tokens, limits, faults, request log."""

from __future__ import annotations

from bridge.sandboxes.kit.clock import SandboxClock
from bridge.sandboxes.kit.faults import Faults
from bridge.sandboxes.kit.ratewindow import FixedWindows
from bridge.sandboxes.kit.requestlog import RequestLog
from bridge.sandboxes.syllaby.auth import Tokens
from bridge.sandboxes.syllaby.config import SyllabySandboxConfig
from bridge.sandboxes.syllaby.ratelimit import SyllabyRateLimiter
from bridge.sandboxes.syllaby.world import SyllabyWorld


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
