"""What every provider's client raises, split by who can act on it.

```
UpstreamError                    base of everything a client raises (.code, .retryable)
├── ApiError                     the API answered: code, status, message, request_id, details
│   ├── RetryableApiError        ambiguous: may have been accepted; retried only when safe
│   │   ├── RateLimited          429 (.retry_after seconds)
│   │   └── ServerError          5xx (and 408 / 425 without a better code)
│   └── TerminalApiError         every other 4xx: definitive, never retried
│       ├── AuthenticationError  401
│       ├── PermissionDenied     403
│       ├── InsufficientCredits  402 (.required, .available)
│       ├── IdempotencyKeyRequired / IdempotencyConflict   the Idempotency-Key rules
│       ├── ValidationFailed     422: the server rejected the body
│       ├── NotFound             404
│       └── StateInvalid         409: state forbids the operation (.state, .allowed)
├── ApiTransportError            no answer (connect, read, timeout, drop): ambiguous
├── UpstreamUnavailable          retries exhausted (.last), code "upstream_unavailable"
├── CircuitOpen                  the provider's circuit is open: not sent, retryable
└── RequestValidationError       a body failed validation before it left (.field)
```

Each provider maps its responses onto this tree in exactly one place (an :data:`ErrorMapper`, e.g.
``bridge.providers.story.errors.from_response``) and may subclass for its own codes. Callers catch
classes; nobody compares integers or message text. Fields are typed attributes so they go straight
into structlog as keys.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import structlog

from bridge.redaction import redact

log = structlog.get_logger(__name__)

AMBIGUOUS_STATUSES = frozenset({408, 425, 429})

# A Retry-After or RateLimit-Reset beyond this is a broken header, not an instruction: obeying
# `inf` or an epoch timestamp read as seconds would block every request forever.
MAX_RATE_WAIT_SECONDS = 600.0


class UpstreamError(Exception):
    """Base of everything a provider's client raises. ``code`` is stable; ``message`` is for humans."""

    code: str = "error"
    retryable: ClassVar[bool] = False
    # True when the request provably never took effect (no connection was made, or the provider
    # refused it before looking at it): re-sending cannot duplicate anything, even without an
    # Idempotency-Key. A provider without Idempotency-Keys (Syllaby) relies on it.
    unapplied: bool = False

    def __init__(self, message: str, *, code: str | None = None) -> None:
        self.message = redact(message)
        if code is not None:
            self.code = code
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        """The outcome document's ``error`` object (CONTRACT.md)."""
        return {
            "code": self.code,
            "message": self.message,
            "requestId": None,
            "status": None,
            "retryable": self.retryable,
        }


class ApiError(UpstreamError):
    """The API answered with an error; each provider maps its own body onto these fields."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        status: int,
        request_id: str | None = None,
        details: Mapping[str, Any] | None = None,
        retry_after: float | None = None,
        account_level: bool = False,
    ) -> None:
        super().__init__(message, code=code)
        # Set by the provider's mapping: the key or the account failed, not this one request.
        self.account_level = account_level
        self.status = status
        self.request_id = request_id
        self.details: dict[str, Any] = dict(details or {})
        # Seconds the server asked us to wait (Retry-After), on 429 and on any other answer.
        self.retry_after = retry_after

    def __str__(self) -> str:
        rid = f" [request_id={self.request_id}]" if self.request_id else ""
        return f"{self.code} ({self.status}): {self.message}{rid}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(code={self.code!r}, status={self.status}, "
            f"request_id={self.request_id!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out.update(requestId=self.request_id, status=self.status)
        return out


class RetryableApiError(ApiError):
    """Ambiguous: the request may already have been accepted. Retry only with the SAME key."""

    retryable = True


class RateLimited(RetryableApiError):
    """429: wait exactly ``retry_after`` seconds (no extra backoff) before sending anything."""


class ServerError(RetryableApiError):
    """5xx (``internal_error``), or 408 / 425: retry with the same Idempotency-Key."""


class TerminalApiError(ApiError):
    """Definitive 4xx: re-sending the same request cannot succeed until someone acts."""


class AuthenticationError(TerminalApiError):
    """401: the key is missing, malformed, unknown, revoked or expired. Rotate or reissue it."""


class PermissionDenied(TerminalApiError):
    """403: the account or the request origin is not allowed."""


class InsufficientCredits(TerminalApiError):
    """402: not enough Studio Credits; ``required`` / ``available`` from ``details``."""

    @property
    def required(self) -> int | None:
        return int_or_none(self.details.get("required"))

    @property
    def available(self) -> int | None:
        return int_or_none(self.details.get("available"))


class IdempotencyKeyRequired(TerminalApiError):
    """422: this endpoint needs an Idempotency-Key header."""


class IdempotencyConflict(TerminalApiError):
    """409: the key was used with a different body, or the original is still processing.

    The documented message covers both meanings, so only a structured `details.reason` tells them
    apart (`in_progress`: True, False, or None when the API does not say). While the first attempt
    runs, asking again later with the same key is the documented move.
    """

    @property
    def in_progress(self) -> bool | None:
        reason = str(self.details.get("reason", "")).lower()
        if not reason:
            return None
        return reason in {"in_progress", "processing"}


class ValidationFailed(TerminalApiError):
    """422 validation_failed: the server rejected the payload (``message`` names the field)."""


class NotFound(TerminalApiError):
    """404: the resource does not exist, was deleted, or belongs to another account."""


class StateInvalid(TerminalApiError):
    """409: the resource's state does not allow the operation. State, not a fault: wait or act."""

    @property
    def state(self) -> Any:
        return self.details.get("status", self.details.get("stage"))

    @property
    def allowed(self) -> Any:
        return self.details.get("allowed")


class ApiTransportError(UpstreamError):
    """No HTTP answer (connect, read, write, timeout, dropped connection). Ambiguous, so retried.

    Built from an httpx exception with only its class name and the method + path: httpx
    exceptions hold the request, and the request holds the Authorization header.
    """

    code = "transport_error"
    retryable = True

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        path: str | None = None,
        unapplied: bool = False,
    ) -> None:
        super().__init__(message)
        self.method = method
        self.path = path
        self.unapplied = unapplied  # the connection was never made: nothing was sent


class UpstreamUnavailable(UpstreamError):
    """The retry budget ran out on ambiguous failures; ``last`` is the last one seen.

    Retryable later (the API may come back), but this client has stopped trying.
    """

    code = "upstream_unavailable"
    retryable = True

    def __init__(
        self,
        message: str,
        *,
        last: UpstreamError | None = None,
        attempts: int = 0,
        unapplied: bool = False,
    ) -> None:
        super().__init__(message)
        self.last = last
        self.attempts = attempts
        self.unapplied = unapplied  # every attempt provably never took effect

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if isinstance(self.last, ApiError):
            out.update(requestId=self.last.request_id, status=self.last.status)
        return out


class CircuitOpen(UpstreamError):
    """The provider's circuit is open after an account-level failure: the request was not sent.

    `code` is the account-level code that opened the circuit (e.g. `api_key_revoked`). Retryable:
    the circuit closes by itself once a probe succeeds. `pauses_polling` tells the watch engine this
    is not a failed read of one resource.
    """

    retryable = True
    pauses_polling = True
    unapplied = True  # refused before it was sent

    def __init__(self, message: str, *, code: str, provider: str, status: int | None) -> None:
        super().__init__(message, code=code)
        self.provider = provider
        self.status = status

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["status"] = self.status
        return out


class RequestValidationError(UpstreamError, ValueError):
    """A request body failed validation before it left; ``field`` names the offending field."""

    code = "validation_failed"
    unapplied = True  # it never left

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


ErrorMapper = Callable[[int, Any, Mapping[str, str]], "ApiError"]
"""A provider's mapping of one error response (status, parsed body, headers) onto the tree."""


def is_account_level(error: UpstreamError) -> bool:
    """Whether this error is about the key or the account rather than one request."""
    return isinstance(error, ApiError) and error.account_level


def clamp_wait(seconds: float, *, header: str) -> float:
    """A server-given wait bounded to [0, MAX_RATE_WAIT_SECONDS]; NaN counts as no wait."""
    if seconds != seconds:  # NaN
        return 0.0
    if seconds > MAX_RATE_WAIT_SECONDS:
        log.warning(
            "rate limit header out of bounds; clamped",
            header=header,
            value=seconds,
            clamped_to=MAX_RATE_WAIT_SECONDS,
        )
        return MAX_RATE_WAIT_SECONDS
    return max(0.0, seconds)


def parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date; ``None`` when absent or bad.

    Bounded by MAX_RATE_WAIT_SECONDS: `inf`, `1e308` or a date years ahead is a broken header.
    """
    if not value:
        return None
    try:
        return clamp_wait(float(value), header="Retry-After")
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return clamp_wait(when.timestamp() - time.time(), header="Retry-After")


def header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


def int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
