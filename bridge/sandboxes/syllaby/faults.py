"""An injected error as the Syllaby API would send it (the rules and matching are the kit's)."""

from __future__ import annotations

from bridge.sandboxes.kit.faults import FaultRule
from bridge.sandboxes.syllaby import errors
from bridge.sandboxes.syllaby.errors import SyllabySandboxError


def fault_error(rule: FaultRule) -> SyllabySandboxError:
    """Not 429 (the app renders that with its rate headers). `code` is carried if given; a 403
    with code SUBSCRIPTION-REQUIRED is the subscription gate's answer, any other 403 a
    precondition's."""
    status = rule.status or 500
    if status == 401:
        err = errors.unauthenticated()
    elif status == 402:
        err = errors.insufficient_credits(0, 0)
    elif status == 403:
        subscription = rule.code == errors.SUBSCRIPTION_REQUIRED
        err = (
            errors.subscription_required()
            if subscription
            else errors.forbidden("Injected fault: forbidden.")
        )
    elif status == 404:
        err = errors.not_found()
    elif status == 422:
        err = errors.invalid({"fault": ["Injected fault: the given data was invalid."]})
    elif status == 503:
        err = SyllabySandboxError(503, "Service Unavailable.")
    elif status >= 500:
        err = (
            errors.server_error() if status == 500 else SyllabySandboxError(status, "Server Error.")
        )
    else:
        err = SyllabySandboxError(status, f"Injected fault: HTTP {status}.")
    if rule.code is not None:
        err.code = rule.code
    return err
