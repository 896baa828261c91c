"""Syllaby's limit headers over the shared window accounting (30 requests a minute per token).

As Laravel's throttle middleware answers: `X-RateLimit-Limit` and `X-RateLimit-Remaining` on every
answer it lets through; a 429 adds `Retry-After` (seconds) and `X-RateLimit-Reset`, a Unix
timestamp (not seconds from now, unlike the Story API).
"""

from __future__ import annotations

import math
import time

from bridge.sandboxes.kit.ratewindow import FixedWindows, Window
from bridge.sandboxes.syllaby.errors import SyllabySandboxError


def headers(window: Window) -> dict[str, str]:
    return {"X-RateLimit-Limit": str(window.limit), "X-RateLimit-Remaining": str(window.remaining)}


def too_many(window: Window, retry_after: int | None = None) -> SyllabySandboxError:
    wait = window.resets_in if retry_after is None else retry_after
    return SyllabySandboxError(
        429,
        "Too Many Attempts.",
        headers={
            "X-RateLimit-Limit": str(window.limit),
            "X-RateLimit-Remaining": "0",
            "Retry-After": str(wait),
            "X-RateLimit-Reset": str(math.ceil(time.time()) + wait),
        },
    )


class SyllabyRateLimiter:
    def __init__(self, windows: FixedWindows) -> None:
        self.windows = windows

    def take(self, bucket: str) -> dict[str, str]:
        """The success headers, or raises 429 (nothing spent)."""
        window = self.windows.take(bucket)
        if not window.allowed:
            raise too_many(window)
        return headers(window)

    def storm(self, bucket: str, retry_after: int) -> SyllabySandboxError:
        """An injected 429 that looks like the real one, waiting `retry_after` seconds."""
        return too_many(self.windows.peek(bucket), retry_after)

    def reset(self) -> None:
        self.windows.reset()
