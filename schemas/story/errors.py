"""The API's error envelope and every stable error code with its HTTP status."""

from __future__ import annotations

from typing import Any

from schemas.wire.base import ApiModel


class ErrorBody(ApiModel):
    """`error` of every API error response. Match on `code`; `message` is prose that changes."""

    code: str
    message: str = ""
    requestId: str | None = None
    details: dict[str, Any] | None = None


class ErrorEnvelope(ApiModel):
    """`{"error": {...}}`, the one shape of every API error response."""

    error: ErrorBody


ERROR_CODES: dict[str, int] = {
    "authentication_required": 401,
    "invalid_api_key": 401,
    "api_key_revoked": 401,
    "api_key_expired": 401,
    "account_disabled": 403,
    "ip_not_allowed": 403,
    "insufficient_scope": 403,
    "rate_limited": 429,
    "idempotency_key_required": 422,
    "idempotency_conflict": 409,
    "validation_failed": 422,
    "project_not_found": 404,
    "source_not_found": 404,
    "source_type_unsupported": 422,
    "source_too_large": 422,
    "source_fetch_failed": 422,
    "story_plan_not_found": 404,
    "story_plan_state_invalid": 409,
    "story_plan_failed": 422,
    "story_job_not_found": 404,
    "story_job_state_invalid": 409,
    "artifact_not_found": 404,
    "artifact_not_ready": 409,
    "artifact_generation_failed": 422,
    "insufficient_credits": 402,
    "internal_error": 500,
}
"""The 23 codes of the reference table, plus the three story_plan_* codes of the agent guide."""

# Seen in production (FIELD-NOTES.md), not in the published table.
FIELD_NOTE_CODES: dict[str, int] = {
    "project_precondition_failed": 409,
    "cast_precondition_failed": 409,
}

KNOWN_ERROR_CODES: dict[str, int] = {**ERROR_CODES, **FIELD_NOTE_CODES}
"""Every stable code we know, documented or seen in production. ERROR_CODES stays the documented
set (the sandbox reproduces exactly those)."""

RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
"""Ambiguous answers: the request may have been accepted upstream (FIELD-NOTES.md)."""


def is_ambiguous(status: int) -> bool:
    """The request may have been accepted upstream: retry only with the same Idempotency-Key."""
    return status in RETRYABLE_STATUSES or status >= 500
