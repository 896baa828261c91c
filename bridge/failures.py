"""What each way a command can fail is answered with: the outcome documents of the executor.

Pure functions from an error to the contract's outcome (codes `invalid_command`,
`upstream_unavailable`, `bridge_error`, the API's own codes), so that `bridge.commands` holds only
how a command runs.
"""

from __future__ import annotations

from typing import Any

from bridge.http.errors import (
    ApiError,
    ApiTransportError,
    CircuitOpen,
    IdempotencyConflict,
    RequestValidationError,
    RetryableApiError,
    UpstreamError,
    UpstreamUnavailable,
)
from schemas.wire.outcome import Outcome, OutcomeError

INVALID_COMMAND = "invalid_command"
UPSTREAM_UNAVAILABLE = "upstream_unavailable"
BRIDGE_ERROR = "bridge_error"


def invalid(command_id: str, command: str, message: str, field: str) -> Outcome:
    return Outcome.failure(
        command_id=command_id,
        command=command,
        error=OutcomeError(
            code=INVALID_COMMAND,
            message=message,
            requestId=None,
            status=None,
            retryable=False,
            field=field,
        ),
    )


def mismatch(command_id: str, name: str) -> Outcome:
    message = (
        f"commandId {command_id!r} was already used for a different {name} request; "
        "use a new commandId for a new request"
    )
    return invalid(command_id, name, message, "commandId")


def our_conflict(error: BaseException | None) -> bool:
    """A 409 idempotency_conflict the API does not explain as "another body": with the body known
    to be the same, it can only be an earlier attempt of this very command still running."""
    return isinstance(error, IdempotencyConflict) and error.in_progress is not False


def still_processing(command_id: str, name: str, error: BaseException | None) -> Outcome:
    conflict = error if isinstance(error, IdempotencyConflict) else None
    return Outcome.failure(
        command_id=command_id,
        command=name,
        error=OutcomeError(
            code=conflict.code if conflict else "idempotency_conflict",
            message=(
                "an earlier attempt of this commandId (same body) is still processing at the "
                "API; it will be answered once it finishes: retry with the same commandId"
            ),
            requestId=conflict.request_id if conflict else None,
            status=conflict.status if conflict else 409,
            retryable=True,
        ),
    )


def bridge_error(
    command_id: str, name: str, message: str, *, retryable: bool, result: Any
) -> Outcome:
    error = OutcomeError(
        code=BRIDGE_ERROR, message=message, requestId=None, status=None, retryable=retryable
    )
    return Outcome.failure(command_id=command_id, command=name, error=error, result=result)


def failure_of(command_id: str, name: str, err: UpstreamError, result: Any = None) -> Outcome:
    if isinstance(err, RequestValidationError):
        return invalid(command_id, name, str(err), err.field or "payload")
    if isinstance(err, CircuitOpen):
        error = OutcomeError(
            code=err.code,
            message=err.message,
            requestId=None,
            status=err.status,
            retryable=True,
        )
    elif isinstance(err, UpstreamUnavailable | ApiTransportError | RetryableApiError):
        last = err.last if isinstance(err, UpstreamUnavailable) else err
        # Syllaby's 429 keeps its contract code (`rate_limited`) when the wait outlasts the
        # retry budget; the Story API's is an outage like any other (`upstream_unavailable`).
        keeps = getattr(last, "keeps_code_when_exhausted", False)
        error = OutcomeError(
            code=last.code if keeps and last is not None else UPSTREAM_UNAVAILABLE,
            message=str(err),
            requestId=getattr(last, "request_id", None),
            status=getattr(last, "status", None),
            retryable=True,
        )
    elif isinstance(err, ApiError):
        error = OutcomeError(
            code=err.code,
            message=err.message,
            requestId=err.request_id,
            status=err.status,
            retryable=False,
            details=err.details,
        )
    else:
        error = OutcomeError(
            code=BRIDGE_ERROR,
            message=str(err),
            requestId=None,
            status=None,
            retryable=False,
        )
    return Outcome.failure(command_id=command_id, command=name, error=error, result=result)
