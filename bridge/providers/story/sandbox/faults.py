"""Seeded fault injection: what a flaky network and an overloaded API look like to a client.

A rule matches on method and on the path after /api/v1: a glob (`/story-jobs/*`), or a regular
expression when it starts with `^` (`^/artifacts/[^/]+/finalize$`). A matching rule FIRES with
probability `error_rate`, or always when `error_rate` is 0; `times` caps how often it fires. A
fired rule applies, in order: `latency_ms` (delay before the request is handled), then one of
`hang` (never answer), `drop` (close the connection before doing anything), `storm_429` (429
rate_limited with `Retry-After: retry_after`), an error (`status`, default 500 `internal_error`;
see `is_error`), or `hold_ms` (the request is held while being handled, before its effect: a
same-key request meanwhile is 409 "already processing"), or - after the request was handled
normally - `drop_after` (the effect happened, the answer is lost) and `respond_latency_ms`.
`bare` sends an injected error without its body (an ingress answering 404 for the API);
`pad_bytes` adds a `padding` field of that many bytes to the object a successful answer carries
(a huge snapshot).

The RNG is `random.Random(seed)`, reseeded whenever the rules are replaced, and drawn only for
rules with 0 < error_rate < 1: the same seed and the same requests give the same faults.
"""

from __future__ import annotations

import fnmatch
import random
import re
import threading

from bridge.providers.story.sandbox.config import FaultRule
from bridge.providers.story.sandbox.errors import SandboxError

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


def path_matches(pattern: str, path: str) -> bool:
    if pattern.startswith("^"):
        return re.search(pattern, path) is not None
    return fnmatch.fnmatchcase(path, pattern)


def fault_error(rule: FaultRule) -> SandboxError:
    """The error a fired rule answers with, in the API's envelope."""
    if rule.storm_429 or rule.status == 429:
        return SandboxError(
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
    return SandboxError(code, f"Injected fault: HTTP {status}.", status=status)


def is_error(rule: FaultRule) -> bool:
    """Whether a fired rule answers with an error, rather than only delaying or dropping.

    `storm_429` or an explicit `status` always do; otherwise `error_rate` alone (no other effect)
    means "fail this often", while beside latency/hang/drop it only says how often those happen.
    """
    if rule.storm_429 or rule.status is not None:
        return True
    other = (
        rule.latency_ms
        or rule.respond_latency_ms
        or rule.hold_ms
        or rule.hang
        or rule.drop
        or rule.drop_after
    )
    return rule.error_rate > 0 and not other


class Faults:
    """`fire(method, path)`: the rule that fires for this request, if any."""

    def __init__(self, rules: list[FaultRule], seed: int) -> None:
        self.seed = seed
        self._lock = threading.Lock()
        self.replace(rules)

    @property
    def rules(self) -> list[FaultRule]:
        return list(self._rules)

    def replace(self, rules: list[FaultRule]) -> None:
        with self._lock:
            self._rules = list(rules)
            self._fired = [0] * len(self._rules)
            self._rng = random.Random(self.seed)

    def fire(self, method: str, path: str) -> FaultRule | None:
        with self._lock:
            for index, rule in enumerate(self._rules):
                if rule.method and rule.method.upper() != method.upper():
                    continue
                if not path_matches(rule.path, path):
                    continue
                if rule.times is not None and self._fired[index] >= rule.times:
                    continue
                if 0 < rule.error_rate < 1 and self._rng.random() >= rule.error_rate:
                    continue
                self._fired[index] += 1
                return rule
            return None
