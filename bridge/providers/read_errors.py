"""A failed HTTP read as the watch engine takes it, the same for every provider's watch.

It lives beside the providers, not in the engine: the engine knows no HTTP error.
"""

from __future__ import annotations

from bridge.http.errors import NotFound, RateLimited, UpstreamError, UpstreamUnavailable
from bridge.watch.model import ReadError

__all__ = ["read_error"]


def read_error(err: UpstreamError) -> ReadError:
    """`paused` while the provider's circuit is open (not this watch's failure), `not_found` for a
    404, else a plain failure that waits the API's Retry-After when it gave one (a 429, also the
    last one behind an exhausted retry)."""
    message = f"{err.code}: {err.message}"
    if getattr(err, "pauses_polling", False):
        return ReadError(message, paused=True)
    if isinstance(err, NotFound):
        return ReadError(message, not_found=True)
    retry_after = getattr(err, "retry_after", None)
    last = getattr(err, "last", None)
    if isinstance(err, UpstreamUnavailable) and isinstance(last, RateLimited):
        retry_after = last.retry_after
    return ReadError(message, retry_after=retry_after)
