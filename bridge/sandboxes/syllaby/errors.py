"""How the Syllaby sandbox says no: one exception, rendered as a Laravel-style JSON error.

The reference links its error shapes to a getting-started page we do not have; these follow what
it does say (403 carries `code: SUBSCRIPTION-REQUIRED` for the subscription gate, 422 is a
validation error) and Laravel's own renderings, which its envelope and messages show it is built
on: every error is `{message, status}`, plus `code` where the API names one and `errors` (field ->
list of messages, dotted paths for nested fields) on a 422.

| status | when                                   | message                                      |
|--------|----------------------------------------|----------------------------------------------|
| 401    | missing or unknown token               | Unauthenticated.                             |
| 402    | balance below the charge               | Insufficient credits. (+ `required`, `available`) |
| 403    | subscription off (code SUBSCRIPTION-REQUIRED) | An active subscription is required.   |
| 403    | a precondition                          | e.g. A script is required before rendering.  |
| 404    | no such storyboard/scene, or no route  | Resource not found.                          |
| 422    | validation                             | the first field's message (and N more errors)|
| 429    | over the token's window                | Too Many Attempts.                           |
| 500    | a sandbox bug or an injected error     | Server Error.                                |
"""

from __future__ import annotations

from typing import Any

SUBSCRIPTION_REQUIRED = "SUBSCRIPTION-REQUIRED"


class SyllabySandboxError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        errors: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.errors = errors
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "status": self.status}
        if self.code is not None:
            body["code"] = self.code
        if self.errors is not None:
            body["errors"] = self.errors
        body.update(self.extra)
        return body


def unauthenticated() -> SyllabySandboxError:
    return SyllabySandboxError(401, "Unauthenticated.")


def subscription_required() -> SyllabySandboxError:
    return SyllabySandboxError(
        403, "An active subscription is required.", code=SUBSCRIPTION_REQUIRED
    )


def forbidden(message: str) -> SyllabySandboxError:
    """A precondition or ownership failure: the subscription is fine, the action is not."""
    return SyllabySandboxError(403, message)


def not_found() -> SyllabySandboxError:
    return SyllabySandboxError(404, "Resource not found.")


def insufficient_credits(required: int, available: int) -> SyllabySandboxError:
    return SyllabySandboxError(
        402, "Insufficient credits.", extra={"required": required, "available": available}
    )


def invalid(errors: dict[str, list[str]]) -> SyllabySandboxError:
    """Laravel's 422: the first message, "(and N more errors)" when there are more."""
    messages = [m for field in errors.values() for m in field]
    message = messages[0] if messages else "The given data was invalid."
    more = len(messages) - 1
    if more > 0:
        message += f" (and {more} more error{'s' if more > 1 else ''})"
    return SyllabySandboxError(422, message, errors=errors)


def server_error() -> SyllabySandboxError:
    return SyllabySandboxError(500, "Server Error.")
