"""The Story API client: keys, errors, the shared rate budget, the transport and ``StoryClient``."""

from bridge.api.errors import (
    ApiError,
    IdempotencyConflict,
    InsufficientCredits,
    NotFound,
    RateLimited,
    RequestValidationError,
    RetryableApiError,
    StateInvalid,
    StoryApiError,
    TerminalApiError,
    TransportError,
    UpstreamUnavailable,
)
from bridge.api.keys import ApiKey, redact
from bridge.api.ratelimit import Priority, RateBudget
from bridge.api.transport import ApiResponse, RetryPolicy

__all__ = [
    "ApiError",
    "ApiKey",
    "ApiResponse",
    "IdempotencyConflict",
    "InsufficientCredits",
    "NotFound",
    "Priority",
    "RateBudget",
    "RateLimited",
    "RequestValidationError",
    "RetryPolicy",
    "RetryableApiError",
    "StateInvalid",
    "StoryApiError",
    "StoryClient",
    "TerminalApiError",
    "TransportError",
    "UpstreamUnavailable",
    "redact",
]


def __getattr__(name: str) -> object:
    # StoryClient imports the schemas package; load it lazily so importing keys/errors stays cheap.
    if name == "StoryClient":
        from bridge.api.client import StoryClient

        return StoryClient
    raise AttributeError(name)
