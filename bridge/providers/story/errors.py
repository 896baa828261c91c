"""The Story API's errors: its own codes as subclasses of the shared tree, and the one mapping.

```
bridge.http.errors               the shared tree
└── TerminalApiError
    ├── PermissionDenied ── InsufficientScope          403 insufficient_scope
    ├── NotFound ── ProjectNotFound, SourceNotFound, PlanNotFound, JobNotFound, ArtifactNotFound
    ├── StateInvalid ── PlanStateInvalid, JobStateInvalid, ArtifactNotReady, PreconditionFailed
    ├── SourceRejected           422 source_type_unsupported, source_too_large, source_fetch_failed
    └── GenerationFailed         422 story_plan_failed, artifact_generation_failed
```

:func:`from_response` maps an answer to its class: the stable ``error.code`` first, the HTTP status
for servers that send none, the message text last (old servers only, FIELD-NOTES).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.http.errors import (
    ApiError,
    AuthenticationError,
    IdempotencyConflict,
    IdempotencyKeyRequired,
    InsufficientCredits,
    NotFound,
    PermissionDenied,
    RateLimited,
    ServerError,
    StateInvalid,
    TerminalApiError,
    ValidationFailed,
    header,
    parse_retry_after,
)

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


class InsufficientScope(PermissionDenied):
    """403 insufficient_scope: the key lacks the scope this endpoint needs."""


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


def from_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> ApiError:
    """Map one ``{"error": {code, message, requestId, details}}`` answer: code, then status, then text."""
    headers = headers or {}
    envelope = body.get("error") if isinstance(body, Mapping) else None
    if not isinstance(envelope, Mapping):
        envelope = {}
    code = envelope.get("code") if isinstance(envelope.get("code"), str) else None
    message = envelope.get("message")
    if not isinstance(message, str):
        message = f"HTTP {status} without an error envelope"
    request_id = envelope.get("requestId") or header(headers, "x-request-id")
    details = envelope.get("details")
    details = dict(details) if isinstance(details, Mapping) else {}
    error_cls = _classify(code, status, message)
    kwargs: dict[str, Any] = {
        "code": code or _FALLBACK_CODES.get(error_cls, f"http_{status}"),
        "status": status,
        "request_id": str(request_id) if request_id else None,
        "details": details,
    }
    kwargs["retry_after"] = parse_retry_after(header(headers, "retry-after"))
    kwargs["account_level"] = kwargs["code"] in ACCOUNT_LEVEL_CODES
    return error_cls(message, **kwargs)
