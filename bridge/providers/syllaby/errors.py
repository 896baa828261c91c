"""Syllaby's answers mapped onto the shared error tree, once, with the contract's codes.

```
ApiError (bridge.http.errors)
├── RetryableApiError
│   ├── SyllabyRateLimited       429 rate_limited: Retry-After, or X-RateLimit-Reset (a Unix time);
│   │                                refused before anything ran (`unapplied`)
│   └── SyllabyServerError       5xx: ambiguous, the request may have run
└── TerminalApiError
    ├── Unauthenticated          401 unauthenticated            account-level: opens the circuit
    ├── SubscriptionRequired     403 SUBSCRIPTION-REQUIRED -> subscription_required, account-level
    ├── Forbidden                403 other: ownership or a precondition ("A script is required
    │                                before rendering.")
    ├── SyllabyInsufficientCredits  402 insufficient_credits
    ├── SyllabyNotFound          404 not_found
    ├── SyllabyValidationFailed  422 validation_failed (Laravel `errors` object in details)
    └── SyllabyHttpError         any other 4xx: http_<status>
```

`details` keeps the API's whole body (`{message, status, data}`, `errors`, `code`), so a caller sees
exactly what Syllaby said. The subscription gate runs before ownership, credits and validation, so
a 401 or SUBSCRIPTION-REQUIRED answer means nothing ran: `unapplied`, like a 429.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from bridge.http import errors as e

SUBSCRIPTION_CODE = "SUBSCRIPTION-REQUIRED"


class Unauthenticated(e.AuthenticationError):
    """401: the token is missing, wrong or revoked."""

    unapplied = True


class SubscriptionRequired(e.PermissionDenied):
    """403 SUBSCRIPTION-REQUIRED: the account has no active subscription; every call fails alike."""

    unapplied = True


class Forbidden(e.PermissionDenied):
    """403 without the subscription code: another account's resource, or an unmet precondition."""


class SyllabyInsufficientCredits(e.InsufficientCredits):
    """402: the balance is too low; top up and send a new command."""


class SyllabyNotFound(e.NotFound):
    """404: no such storyboard or scene for this account."""


class SyllabyValidationFailed(e.ValidationFailed):
    """422: Laravel's `{message, errors: {field: [..]}}` is in `details`."""

    @property
    def errors(self) -> dict[str, Any]:
        found = self.details.get("errors")
        return dict(found) if isinstance(found, Mapping) else {}


class SyllabyRateLimited(e.RateLimited):
    """429: nothing ran; wait `retry_after` seconds (the later of Retry-After and the reset)."""

    unapplied = True
    keeps_code_when_exhausted = True  # the outcome says `rate_limited`, not `upstream_unavailable`


class SyllabyServerError(e.ServerError):
    """5xx: the request may or may not have taken effect."""


class SyllabyHttpError(e.TerminalApiError):
    """Any other 4xx."""


# Every later call fails the same way until someone acts: these open the provider's circuit.
ACCOUNT_LEVEL: frozenset[type[e.ApiError]] = frozenset({Unauthenticated, SubscriptionRequired})

_BY_STATUS: dict[int, tuple[type[e.ApiError], str]] = {
    401: (Unauthenticated, "unauthenticated"),
    402: (SyllabyInsufficientCredits, "insufficient_credits"),
    404: (SyllabyNotFound, "not_found"),
    422: (SyllabyValidationFailed, "validation_failed"),
    429: (SyllabyRateLimited, "rate_limited"),
}


def _code_in(body: Any) -> str | None:
    """The body's `code`, wherever this API puts it (top level, `data`, `error`)."""
    if not isinstance(body, Mapping):
        return None
    for holder in (body, body.get("data"), body.get("error")):
        if isinstance(holder, Mapping) and isinstance(holder.get("code"), str):
            return str(holder["code"])
    return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
    return value


def rate_wait(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait after a 429: the later of `Retry-After` (seconds) and `X-RateLimit-Reset`
    (a Unix timestamp, unlike the Story API's seconds), bounded like every server-given wait."""
    after = e.parse_retry_after(_header(headers, "retry-after"))
    reset_raw = _header(headers, "x-ratelimit-reset")
    until_reset: float | None = None
    if reset_raw:
        try:
            reset = float(reset_raw)
        except ValueError:
            reset = None
        if reset is not None and reset == reset:
            until_reset = e.clamp_wait(reset - (now or time.time()), header="X-RateLimit-Reset")
    waits = [w for w in (after, until_reset) if w is not None]
    return max(waits) if waits else None


def from_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> e.ApiError:
    """One Syllaby error response -> its class, with the contract's code and the body as details."""
    headers = headers or {}
    message = body.get("message") if isinstance(body, Mapping) else None
    if not isinstance(message, str) or not message:
        message = f"HTTP {status}"
    details: dict[str, Any] = {} if body is None else {"body": body}
    if isinstance(body, Mapping):
        details = dict(body)
    error_cls: type[e.ApiError]
    if status == 403:
        subscription = (_code_in(body) or "").upper() == SUBSCRIPTION_CODE
        error_cls, code = (
            (SubscriptionRequired, "subscription_required")
            if subscription
            else (Forbidden, "forbidden")
        )
    elif status in _BY_STATUS:
        error_cls, code = _BY_STATUS[status]
    elif status >= 500 or status in e.AMBIGUOUS_STATUSES:
        error_cls, code = SyllabyServerError, "upstream_unavailable"
    else:
        error_cls, code = SyllabyHttpError, f"http_{status}"
    request_id = _header(headers, "x-request-id")
    retry_after = (
        rate_wait(headers)
        if status == 429
        else e.parse_retry_after(_header(headers, "retry-after"))
    )
    return error_cls(
        message,
        code=code,
        status=status,
        request_id=request_id,
        details=details,
        retry_after=retry_after,
        account_level=error_cls in ACCOUNT_LEVEL,
    )
