"""Seeded fault injection: what a flaky network and an overloaded API look like to a client.

A rule matches on method and on the path after the API's base path: a glob (`/story-jobs/*`), or
a regular expression when it starts with `^` (`^/text-to-scene/\\d+/render$`). A matching rule
FIRES with probability `error_rate`, or always when `error_rate` is 0; `times` caps how often it
fires. A fired rule applies, in order:

- before the request is handled: `latency_ms` (a delay), then one of `hang` (never answer, the
  request has no effect), `drop` (close the connection, no effect), `storm_429` (429 with
  `Retry-After: retry_after`), an error (`status`; see `is_error`), or `hold_ms` (the request is
  held while being handled, before its effect);
- after the request was handled normally (its effect applied): `drop_after` (the connection
  closes, the answer is lost), `hang_after` (the answer never comes: the client times out not
  knowing whether the effect happened) or `respond_latency_ms` (the answer waits).

`bare` sends an injected error without its body (an ingress answering, not the API); `pad_bytes`
adds a `padding` field of that many bytes to the object a successful answer carries.

The RNG is `random.Random(seed)`, reseeded whenever the rules are replaced, and drawn only for
rules with 0 < error_rate < 1: the same seed and the same requests give the same faults. How an
injected error looks (its envelope and codes) is each provider's own.
"""

from __future__ import annotations

import fnmatch
import random
import re
import threading

from pydantic import BaseModel, Field


class FaultRule(BaseModel):
    """A fault on matching requests; semantics in the module docstring."""

    path: str = "*"  # glob on the path after the base path, or a regex when it starts with "^"
    method: str | None = None
    error_rate: float = Field(default=0.0, ge=0.0, le=1.0)  # 0: fires on every match
    status: int | None = None  # the injected error's HTTP status (500 when error_rate is set)
    code: str | None = None  # the injected error's code (default: derived from the status)
    latency_ms: int = Field(default=0, ge=0)  # before the request is handled
    respond_latency_ms: int = Field(default=0, ge=0)  # after: the work is done, the answer waits
    # while handling, before the effect: the API is "processing" (the Story API's same-key
    # requests get 409 meanwhile)
    hold_ms: int = Field(default=0, ge=0)
    hang: bool = False  # never answer, before the effect (until the client gives up)
    hang_after: bool = False  # apply the effect, then never answer
    drop: bool = False  # close the connection before handling the request
    drop_after: bool = False  # handle the request, then close the connection without the answer
    storm_429: bool = False  # 429 rate limited with Retry-After: retry_after
    retry_after: int = Field(default=1, ge=0)
    times: int | None = Field(default=None, ge=0)  # fire N times, then stop
    bare: bool = False  # the injected error comes with no body (a proxy answering, not the API)
    pad_bytes: int = Field(default=0, ge=0)  # a handled answer's object grows a field this large
    # headers set on the answer, over the provider's own (e.g. a broken `RateLimit-Remaining: nan`)
    headers: dict[str, str] = Field(default_factory=dict)


def path_matches(pattern: str, path: str) -> bool:
    if pattern.startswith("^"):
        return re.search(pattern, path) is not None
    return fnmatch.fnmatchcase(path, pattern)


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
        or rule.hang_after
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
