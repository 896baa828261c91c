"""Everything the Story API client raises, split by who can act on it.

```
StoryApiError                    base of everything the client raises (.code, .retryable)
├── ApiError                     the API answered: code, status, message, request_id, details
│   ├── RetryableApiError        ambiguous: may have been accepted; retried with the same key
│   │   ├── RateLimited          429 rate_limited (.retry_after seconds)
│   │   └── ServerError          5xx internal_error (and 408 / 425 without a better code)
│   └── TerminalApiError         every other 4xx: definitive, never retried
│       ├── AuthenticationError  401 authentication_required, invalid_api_key, api_key_revoked,
│       │                            api_key_expired
│       ├── PermissionDenied     403 account_disabled, ip_not_allowed
│       │   └── InsufficientScope    403 insufficient_scope
│       ├── InsufficientCredits  402 insufficient_credits (.required, .available)
│       ├── IdempotencyKeyRequired   422 idempotency_key_required
│       ├── IdempotencyConflict  409 idempotency_conflict
│       ├── ValidationFailed     422 validation_failed (the server rejected the body)
│       ├── NotFound             404 *_not_found
│       │   └── ProjectNotFound, SourceNotFound, PlanNotFound, JobNotFound, ArtifactNotFound
│       ├── StateInvalid         409 state forbids the operation (.state, .allowed)
│       │   └── PlanStateInvalid, JobStateInvalid, ArtifactNotReady, PreconditionFailed
│       ├── SourceRejected       422 source_type_unsupported, source_too_large,
│       │                            source_fetch_failed
│       └── GenerationFailed     422 story_plan_failed, artifact_generation_failed
├── TransportError               no answer (connect, read, timeout, drop): ambiguous, retried
├── UpstreamUnavailable          retries exhausted (.last), code "upstream_unavailable"
├── CircuitOpen                  the provider's circuit is open (an account-level failure): not sent,
│                                    code = the account-level code that opened it, retryable
└── RequestValidationError       a body failed validation before it left (.field),
                                 code "validation_failed"
```

A response is mapped to its class in exactly one place, :meth:`ApiError.from_response`: the stable
``error.code`` first, the HTTP status for servers that send none, the message text last (old
servers only). Callers catch classes; nobody compares integers or message text. Fields are typed
attributes so they go straight into structlog as keys.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import structlog

from bridge.http.keys import redact

log = structlog.get_logger(__name__)

__all__ = [
    "ApiError",
    "ArtifactNotFound",
    "ArtifactNotReady",
    "AuthenticationError",
    "CircuitOpen",
    "GenerationFailed",
    "IdempotencyConflict",
    "IdempotencyKeyRequired",
    "InsufficientCredits",
    "InsufficientScope",
    "JobNotFound",
    "JobStateInvalid",
    "NotFound",
    "PermissionDenied",
    "PlanNotFound",
    "PlanStateInvalid",
    "PreconditionFailed",
    "ProjectNotFound",
    "RateLimited",
    "RequestValidationError",
    "RetryableApiError",
    "ServerError",
    "SourceNotFound",
    "SourceRejected",
    "StateInvalid",
    "StoryApiError",
    "TerminalApiError",
    "TransportError",
    "UpstreamUnavailable",
    "ValidationFailed",
    "is_account_level",
    "parse_retry_after",
]

AMBIGUOUS_STATUSES = frozenset({408, 425, 429})

# Failures of the key or the account, not of one request: every later call fails the same way until
# someone acts, so they open the provider's circuit (CONTRACT.md, "Account-level failures").
ACCOUNT_LEVEL_CODES = frozenset(
    {
        "authentication_required",
        "invalid_api_key",
        "api_key_revoked",
        "api_key_expired",
        "account_disabled",
        "ip_not_allowed",
    }
)

# A Retry-After or RateLimit-Reset beyond this is a broken header, not an instruction: obeying
# `inf` or an epoch timestamp read as seconds would block every request forever.
MAX_RATE_WAIT_SECONDS = 600.0


class StoryApiError(Exception):
    """Base of everything the client raises. ``code`` is stable; ``message`` is for humans."""

    code: str = "error"
    retryable: ClassVar[bool] = False

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


class ApiError(StoryApiError):
    """The API answered with ``{"error": {code, message, requestId, details}}``."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        status: int,
        request_id: str | None = None,
        details: Mapping[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, code=code)
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

    @classmethod
    def from_response(
        cls, status: int, body: Any, headers: Mapping[str, str] | None = None
    ) -> ApiError:
        """Map one error response to its class: code first, then status, then message text."""
        headers = headers or {}
        envelope = body.get("error") if isinstance(body, Mapping) else None
        if not isinstance(envelope, Mapping):
            envelope = {}
        code = envelope.get("code") if isinstance(envelope.get("code"), str) else None
        message = envelope.get("message")
        if not isinstance(message, str):
            message = f"HTTP {status} without an error envelope"
        request_id = envelope.get("requestId") or _header(headers, "x-request-id")
        details = envelope.get("details")
        details = dict(details) if isinstance(details, Mapping) else {}
        error_cls = _classify(code, status, message)
        kwargs: dict[str, Any] = {
            "code": code or _FALLBACK_CODES.get(error_cls, f"http_{status}"),
            "status": status,
            "request_id": str(request_id) if request_id else None,
            "details": details,
        }
        kwargs["retry_after"] = parse_retry_after(_header(headers, "retry-after"))
        return error_cls(message, **kwargs)


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


class InsufficientScope(PermissionDenied):
    """403 insufficient_scope: the key lacks the scope this endpoint needs."""


class InsufficientCredits(TerminalApiError):
    """402: not enough Studio Credits; ``required`` / ``available`` from ``details``."""

    @property
    def required(self) -> int | None:
        return _int_or_none(self.details.get("required"))

    @property
    def available(self) -> int | None:
        return _int_or_none(self.details.get("available"))


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


class ProjectNotFound(NotFound):
    """404 project_not_found."""


class SourceNotFound(NotFound):
    """404 source_not_found."""


class PlanNotFound(NotFound):
    """404 story_plan_not_found."""


class JobNotFound(NotFound):
    """404 story_job_not_found."""


class ArtifactNotFound(NotFound):
    """404 artifact_not_found."""


class StateInvalid(TerminalApiError):
    """409: the resource's state does not allow the operation. State, not a fault: wait or act."""

    @property
    def state(self) -> Any:
        return self.details.get("status", self.details.get("stage"))

    @property
    def allowed(self) -> Any:
        return self.details.get("allowed")


class PlanStateInvalid(StateInvalid):
    """409 story_plan_state_invalid."""


class JobStateInvalid(StateInvalid):
    """409 story_job_state_invalid."""


class ArtifactNotReady(StateInvalid):
    """409 artifact_not_ready: poll until the artifact is READY."""


class PreconditionFailed(StateInvalid):
    """409 project_precondition_failed / cast_precondition_failed: a setup step is unfinished."""


class SourceRejected(TerminalApiError):
    """422: the source type, size or fetch was refused (``details.maxBytes`` for size)."""


class GenerationFailed(TerminalApiError):
    """422: plan or artifact generation failed; inspect the resource's failureCode."""


class TransportError(StoryApiError):
    """No HTTP answer (connect, read, write, timeout, dropped connection). Ambiguous, so retried.

    Built from an httpx exception with only its class name and the method + path: httpx
    exceptions hold the request, and the request holds the Authorization header.
    """

    code = "transport_error"
    retryable = True

    def __init__(self, message: str, *, method: str | None = None, path: str | None = None) -> None:
        super().__init__(message)
        self.method = method
        self.path = path


class UpstreamUnavailable(StoryApiError):
    """The retry budget ran out on ambiguous failures; ``last`` is the last one seen.

    Retryable later (the API may come back), but this client has stopped trying.
    """

    code = "upstream_unavailable"
    retryable = True

    def __init__(
        self, message: str, *, last: StoryApiError | None = None, attempts: int = 0
    ) -> None:
        super().__init__(message)
        self.last = last
        self.attempts = attempts

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if isinstance(self.last, ApiError):
            out.update(requestId=self.last.request_id, status=self.last.status)
        return out


class CircuitOpen(StoryApiError):
    """The provider's circuit is open after an account-level failure: the request was not sent.

    `code` is the account-level code that opened the circuit (e.g. `api_key_revoked`). Retryable:
    the circuit closes by itself once a probe succeeds. `pauses_polling` tells the watch engine this
    is not a failed read of one resource.
    """

    retryable = True
    pauses_polling = True

    def __init__(self, message: str, *, code: str, provider: str, status: int | None) -> None:
        super().__init__(message, code=code)
        self.provider = provider
        self.status = status

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["status"] = self.status
        return out


class RequestValidationError(StoryApiError, ValueError):
    """A request body failed validation before it left; ``field`` names the offending field."""

    code = "validation_failed"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# --- classification ----------------------------------------------------------------------------

_BY_CODE: dict[str, type[ApiError]] = {
    "authentication_required": AuthenticationError,
    "invalid_api_key": AuthenticationError,
    "api_key_revoked": AuthenticationError,
    "api_key_expired": AuthenticationError,
    "account_disabled": PermissionDenied,
    "ip_not_allowed": PermissionDenied,
    "insufficient_scope": InsufficientScope,
    "rate_limited": RateLimited,
    "idempotency_key_required": IdempotencyKeyRequired,
    "idempotency_conflict": IdempotencyConflict,
    "validation_failed": ValidationFailed,
    "project_not_found": ProjectNotFound,
    "source_not_found": SourceNotFound,
    "source_type_unsupported": SourceRejected,
    "source_too_large": SourceRejected,
    "source_fetch_failed": SourceRejected,
    "story_plan_not_found": PlanNotFound,
    "story_plan_state_invalid": PlanStateInvalid,
    "story_plan_failed": GenerationFailed,
    "story_job_not_found": JobNotFound,
    "story_job_state_invalid": JobStateInvalid,
    "artifact_not_found": ArtifactNotFound,
    "artifact_not_ready": ArtifactNotReady,
    "artifact_generation_failed": GenerationFailed,
    "insufficient_credits": InsufficientCredits,
    "internal_error": ServerError,
    "project_precondition_failed": PreconditionFailed,
    "cast_precondition_failed": PreconditionFailed,
}

_BY_STATUS: dict[int, type[ApiError]] = {
    401: AuthenticationError,
    402: InsufficientCredits,
    403: PermissionDenied,
    404: NotFound,
    408: ServerError,
    409: StateInvalid,
    422: ValidationFailed,
    425: ServerError,
    429: RateLimited,
}

# Codes given to errors from servers that sent none, so ``code`` is never empty.
_FALLBACK_CODES: dict[type[ApiError], str] = {
    RateLimited: "rate_limited",
    InsufficientCredits: "insufficient_credits",
    IdempotencyConflict: "idempotency_conflict",
    ArtifactNotReady: "artifact_not_ready",
}

# Last resort for old servers (field notes): message fragments, checked in order.
_BY_MESSAGE: tuple[tuple[str, type[ApiError]], ...] = (
    ("idempotency", IdempotencyConflict),
    ("credit", InsufficientCredits),
    ("not ready", ArtifactNotReady),
    ("rate limit", RateLimited),
    ("scope", InsufficientScope),
)


def _classify(code: str | None, status: int, message: str) -> type[ApiError]:
    if code and code in _BY_CODE:
        return _BY_CODE[code]
    if status >= 500:
        return ServerError
    if code is None:
        lowered = message.lower()
        for fragment, error_cls in _BY_MESSAGE:
            if fragment in lowered:
                return error_cls
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return TerminalApiError if 400 <= status < 500 else ApiError


def is_account_level(error: StoryApiError) -> bool:
    """Whether this error is about the key or the account rather than one request."""
    return isinstance(error, ApiError) and error.code in ACCOUNT_LEVEL_CODES


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


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
