"""An injected error as the Story API would send it (the rules and matching are the kit's).

Rules, their matching and the seeded RNG are `bridge.sandboxes.kit.faults`; paths are after /api/v1
(`/story-jobs/*`, `^/artifacts/[^/]+/finalize$`). In the Story sandbox a `hold_ms` request is
"already processing": a same-key request meanwhile is 409, and `bare` errors stand for an ingress
answering 404 for the API.
"""

from __future__ import annotations

from bridge.sandboxes.kit.faults import FaultRule
from bridge.sandboxes.story.errors import StorySandboxError

# The code an injected error carries when the rule names none: a plausible one per status.
_STATUS_CODES = {
    400: "validation_failed",
    401: "invalid_api_key",
    402: "insufficient_credits",
    403: "insufficient_scope",
    404: "not_found",
    408: "request_timeout",
    409: "idempotency_conflict",
    422: "validation_failed",
    425: "too_early",
    429: "rate_limited",
}


def fault_error(rule: FaultRule) -> StorySandboxError:
    """The error a fired rule answers with, in the API's envelope."""
    if rule.storm_429 or rule.status == 429:
        return StorySandboxError(
            "rate_limited",
            "Injected fault: rate limited.",
            status=429,
            headers={"Retry-After": str(rule.retry_after)},
            details={"retryAfter": rule.retry_after},
        )
    status = rule.status or 500
    code = rule.code or _STATUS_CODES.get(status)
    if code is None:
        code = "internal_error" if status >= 500 else "validation_failed"
    return StorySandboxError(code, f"Injected fault: HTTP {status}.", status=status)
