"""The per-key request budget: a fixed window, `RateLimit-*` headers, 429 with an exact Retry-After.

The window accounting is the shared kit's (`bridge.sandboxkit.ratewindow`, on wall time, not the
sandbox clock). `RateLimit-Reset` and `Retry-After` are the whole seconds until the window
restarts, rounded up, so waiting exactly that long always succeeds.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bridge.providers.story.sandbox.errors import SandboxError
from bridge.sandboxkit.ratewindow import FixedWindows, Window


class RateLimiter:
    """`take(bucket) -> headers` or raises 429 rate_limited; one window per bucket (key or IP)."""

    def __init__(
        self,
        per_window: int,
        window_seconds: float = 60.0,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_window = per_window
        self.windows = FixedWindows(per_window, window_seconds, now)

    def take(self, bucket: str) -> dict[str, str]:
        window = self.windows.take(bucket)
        if not window.allowed:
            reset = window.resets_in
            raise SandboxError(
                "rate_limited",
                "The per-key + per-IP rate limit for this route family was exceeded.",
                details={"retryAfter": reset},
                headers={**self.headers(window), "Retry-After": str(reset)},
            )
        return self.headers(window)

    def peek(self, bucket: str) -> dict[str, str]:
        """The headers for `bucket` without spending from it."""
        return self.headers(self.windows.peek(bucket))

    def reset(self) -> None:
        self.windows.reset()

    def headers(self, window: Window) -> dict[str, str]:
        return {
            "RateLimit-Limit": str(window.limit),
            "RateLimit-Remaining": str(max(window.remaining, 0)),
            "RateLimit-Reset": str(window.resets_in),
        }
