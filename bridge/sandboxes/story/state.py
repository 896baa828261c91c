"""Everything one sandbox remembers: clock, world, keys, limits, idempotency, faults, request log."""

from __future__ import annotations

from bridge.sandboxes.kit.clock import SandboxClock
from bridge.sandboxes.kit.faults import Faults
from bridge.sandboxes.kit.ratewindow import FixedWindows
from bridge.sandboxes.kit.requestlog import RequestLog
from bridge.sandboxes.story.auth import ALL_SCOPES, Keys
from bridge.sandboxes.story.config import StorySandboxConfig
from bridge.sandboxes.story.idempotency import IdempotencyStore
from bridge.sandboxes.story.ratelimit import StoryRateLimiter
from bridge.sandboxes.story.world import StoryWorld


class StorySandboxState:
    """One per app (`app.state.sandbox`, `StorySandboxServer.state`), for the control API and tests."""

    def __init__(self, config: StorySandboxConfig) -> None:
        self.config = config
        self.clock = SandboxClock(config.speed, manual=config.manual_clock)
        self.world = StoryWorld(config, self.clock)
        scopes = frozenset(config.any_key_scopes) if config.any_key_scopes is not None else None
        self.keys = Keys(config.accept_any_key, scopes if scopes is not None else ALL_SCOPES)
        for key, key_scopes in config.keys.items():
            self.keys.register(key, key_scopes)
        windows = FixedWindows(config.rate_limit_per_minute, config.rate_limit_window_seconds)
        self.limiter = StoryRateLimiter(windows)
        self.idempotency = IdempotencyStore(reasons=self.config.conflict_reasons)
        self.faults = Faults(config.faults, config.seed)
        self.log = RequestLog()

    def reset(self) -> None:
        """A fresh world (resources, credits, ids) and idempotency store; keys, faults, log kept."""
        self.world = StoryWorld(self.config, self.clock)
        self.idempotency = IdempotencyStore(reasons=self.config.conflict_reasons)
        self.limiter.reset()
