"""The Story API's from_response: one mapping from response to error class (no sandbox needed)."""

from __future__ import annotations

import pytest

from bridge.http import errors as e
from bridge.providers.story import errors as se

TABLE: list[tuple[str, int, type[e.ApiError]]] = [
    ("authentication_required", 401, e.AuthenticationError),
    ("invalid_api_key", 401, e.AuthenticationError),
    ("api_key_revoked", 401, e.AuthenticationError),
    ("api_key_expired", 401, e.AuthenticationError),
    ("account_disabled", 403, e.PermissionDenied),
    ("ip_not_allowed", 403, e.PermissionDenied),
    ("insufficient_scope", 403, se.InsufficientScope),
    ("rate_limited", 429, e.RateLimited),
    ("idempotency_key_required", 422, e.IdempotencyKeyRequired),
    ("idempotency_conflict", 409, e.IdempotencyConflict),
    ("validation_failed", 422, e.ValidationFailed),
    ("project_not_found", 404, se.ProjectNotFound),
    ("source_not_found", 404, se.SourceNotFound),
    ("source_type_unsupported", 422, se.SourceRejected),
    ("source_too_large", 422, se.SourceRejected),
    ("source_fetch_failed", 422, se.SourceRejected),
    ("story_plan_not_found", 404, se.PlanNotFound),
    ("story_plan_state_invalid", 409, se.PlanStateInvalid),
    ("story_plan_failed", 422, se.GenerationFailed),
    ("story_job_not_found", 404, se.JobNotFound),
    ("story_job_state_invalid", 409, se.JobStateInvalid),
    ("artifact_not_found", 404, se.ArtifactNotFound),
    ("artifact_not_ready", 409, se.ArtifactNotReady),
    ("artifact_generation_failed", 422, se.GenerationFailed),
    ("insufficient_credits", 402, e.InsufficientCredits),
    ("internal_error", 500, e.ServerError),
    ("project_precondition_failed", 409, se.PreconditionFailed),
    ("cast_precondition_failed", 409, se.PreconditionFailed),
]


def envelope(code: str | None, message: str = "msg", **extra: object) -> dict[str, object]:
    err: dict[str, object] = {"message": message, "requestId": "req-1", **extra}
    if code is not None:
        err["code"] = code
    return {"error": err}


@pytest.mark.parametrize(("code", "status", "cls"), TABLE)
def test_every_stable_code_maps_to_its_class(code: str, status: int, cls: type) -> None:
    """The code decides the class; fields are carried as typed attributes."""
    err = se.from_response(status, envelope(code, details={"k": 1}), {})
    assert type(err) is cls
    assert (err.code, err.status, err.request_id, err.details) == (code, status, "req-1", {"k": 1})
    assert err.retryable == (status in (429, 500))


def test_the_table_covers_every_documented_code() -> None:
    """Every code in the vendor's list has a class."""
    documented = {
        "authentication_required", "invalid_api_key", "api_key_revoked", "api_key_expired",
        "account_disabled", "ip_not_allowed", "insufficient_scope", "rate_limited",
        "idempotency_key_required", "idempotency_conflict", "validation_failed",
        "project_not_found", "source_not_found", "source_type_unsupported", "source_too_large",
        "source_fetch_failed", "story_plan_not_found", "story_plan_state_invalid",
        "story_plan_failed", "story_job_not_found", "story_job_state_invalid",
        "artifact_not_found", "artifact_not_ready", "artifact_generation_failed",
        "insufficient_credits", "internal_error",
    }  # fmt: skip
    assert documented <= {code for code, _, _ in TABLE}


def test_request_id_falls_back_to_the_header() -> None:
    """X-Request-Id is used when the envelope has no requestId."""
    err = se.from_response(404, {"error": {"code": "project_not_found"}}, {"X-Request-Id": "h"})
    assert err.request_id == "h"


def test_rate_limited_carries_retry_after_seconds() -> None:
    """Retry-After is parsed into a float on the error."""
    err = se.from_response(429, envelope("rate_limited"), {"retry-after": "7"})
    assert isinstance(err, e.RateLimited) and err.retry_after == 7.0


def test_insufficient_credits_exposes_required_and_available() -> None:
    """details.required / details.available become typed properties."""
    body = envelope("insufficient_credits", details={"required": 11, "available": 3})
    err = se.from_response(402, body, {})
    assert isinstance(err, e.InsufficientCredits)
    assert (err.required, err.available) == (11, 3)


def test_state_invalid_exposes_status_and_allowed() -> None:
    """details.status / details.allowed are readable without digging."""
    body = envelope("story_job_state_invalid", details={"status": "READY", "allowed": ["RUNNING"]})
    err = se.from_response(409, body, {})
    assert isinstance(err, e.StateInvalid)
    assert (err.state, err.allowed) == ("READY", ["RUNNING"])


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, e.AuthenticationError),
        (402, e.InsufficientCredits),
        (403, e.PermissionDenied),
        (404, e.NotFound),
        (408, e.ServerError),
        (409, e.StateInvalid),
        (418, e.TerminalApiError),
        (422, e.ValidationFailed),
        (425, e.ServerError),
        (429, e.RateLimited),
        (502, e.ServerError),
    ],
)
def test_old_servers_without_a_code_are_classified_by_status(status: int, cls: type) -> None:
    """No code: the status decides, and code is still never empty."""
    err = se.from_response(status, {"error": {"message": "plain"}}, {})
    assert type(err) is cls
    assert err.code


def test_message_text_is_the_last_resort() -> None:
    """Only with no code at all does message text refine a 409."""
    err = se.from_response(409, {"error": {"message": "Idempotency key reused"}}, {})
    assert isinstance(err, e.IdempotencyConflict)
    coded = se.from_response(409, envelope("story_job_state_invalid", "idempotency"), {})
    assert isinstance(coded, se.JobStateInvalid)


def test_unknown_code_keeps_the_code_and_uses_the_status() -> None:
    """A new code from a newer server is preserved; the status picks the family."""
    err = se.from_response(404, envelope("series_bible_not_found"), {})
    assert type(err) is e.NotFound and err.code == "series_bible_not_found"


def test_non_json_error_bodies_still_map() -> None:
    """A 502 HTML page from a proxy is a ServerError with a code."""
    err = se.from_response(502, None, {})
    assert isinstance(err, e.ServerError) and err.status == 502


def test_to_dict_is_the_outcome_error_object() -> None:
    """The outcome document's error shape comes straight from the error."""
    err = se.from_response(402, envelope("insufficient_credits"), {})
    assert err.to_dict() == {
        "code": "insufficient_credits",
        "message": "msg",
        "requestId": "req-1",
        "status": 402,
        "retryable": False,
    }
    up = e.UpstreamUnavailable("gone", last=se.from_response(500, envelope("internal_error")))
    assert up.to_dict()["code"] == "upstream_unavailable" and up.to_dict()["status"] == 500


def test_messages_are_redacted() -> None:
    """A server that echoes a key in its message cannot leak it through our error."""
    raw = "sh_0123456789abcdef01_" + "ab" * 32
    err = se.from_response(401, envelope("invalid_api_key", f"bad key {raw}"), {})
    assert "ab" * 32 not in str(err) and "ab" * 32 not in repr(err)
