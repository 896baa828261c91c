"""The Story API's limit headers over the shared window accounting (`bridge.sandboxes.kit.ratewindow`).

Every answer carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset`, the whole
seconds until the window restarts (not a timestamp, unlike Syllaby's); a 429 rate_limited adds
`Retry-After`, the same seconds, so waiting exactly that long always succeeds.
"""

from __future__ import annotations

from bridge.sandboxes.kit.ratewindow import FixedWindows, Window
from bridge.sandboxes.story.errors import StorySandboxError


def headers(window: Window) -> dict[str, str]:
    return {
        "RateLimit-Limit": str(window.limit),
        "RateLimit-Remaining": str(window.remaining),
        "RateLimit-Reset": str(window.resets_in),
    }


class StoryRateLimiter:
    """`take(bucket) -> headers` or raises 429 rate_limited; one window per bucket (key or IP)."""

    def __init__(self, windows: FixedWindows) -> None:
        self.windows = windows

    def take(self, bucket: str) -> dict[str, str]:
        window = self.windows.take(bucket)
        if not window.allowed:
            raise StorySandboxError(
                "rate_limited",
                "The per-key + per-IP rate limit for this route family was exceeded.",
                details={"retryAfter": window.resets_in},
                headers={**headers(window), "Retry-After": str(window.resets_in)},
            )
        return headers(window)

    def peek(self, bucket: str) -> dict[str, str]:
        """The headers for `bucket` without spending from it."""
        return headers(self.windows.peek(bucket))

    def reset(self) -> None:
        self.windows.reset()
