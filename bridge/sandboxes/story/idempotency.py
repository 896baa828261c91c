"""Idempotency-Key handling: same key and request replays the stored answer, another request is 409.

Keys are scoped per account (API key prefix), as the API scopes them. The fingerprint covers method,
path and the parsed JSON body, so key order or whitespace in the body do not count as a change.
While the first request with a key is still being handled, another with the same key and request
is 409 idempotency_conflict "already processing" (the agent guide's meaning), as the live API does.
Only successful answers are stored: an error (402, 409, 422...) leaves the key free, so the caller
can fix the cause (add credits, wait for READY) and retry with the same key. An injected fault
never reaches the store either; a `drop_after` fault drops the answer AFTER it was stored, which is
the ambiguous failure a client must resolve by retrying with the same key.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from typing import Any

from bridge.sandboxes.story.errors import StorySandboxError


@dataclass(frozen=True)
class Stored:
    fingerprint: str
    status: int
    body: Any


class IdempotencyStore:
    def __init__(self, *, reasons: bool = True) -> None:
        self.reasons = reasons  # False: a 409 says nothing but its documented message
        self._entries: dict[tuple[str, str], Stored] = {}
        self._processing: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def begin(self, account: str, key: str, fingerprint: str) -> None:
        """Mark the key as being handled; 409 if another request holds it."""
        with self._lock:
            holder = self._processing.get((account, key))
            if holder is None:
                self._processing[(account, key)] = fingerprint
                return
        if holder == fingerprint:
            raise StorySandboxError(
                "idempotency_conflict",
                "A request with the supplied Idempotency-Key is already processing.",
                details={"reason": "in_progress"} if self.reasons else None,
            )
        raise StorySandboxError(
            "idempotency_conflict",
            "A request with the supplied Idempotency-Key used incompatible parameters.",
            details={"reason": "incompatible_parameters"} if self.reasons else None,
        )

    def end(self, account: str, key: str) -> None:
        with self._lock:
            self._processing.pop((account, key), None)

    @staticmethod
    def fingerprint(method: str, path: str, body: Any) -> str:
        canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def lookup(self, account: str, key: str, fingerprint: str) -> Stored | None:
        """The stored answer to replay, None for a new key, or 409 idempotency_conflict."""
        with self._lock:
            stored = self._entries.get((account, key))
        if stored is not None and stored.fingerprint != fingerprint:
            raise StorySandboxError(
                "idempotency_conflict",
                "A request with the supplied Idempotency-Key used incompatible parameters.",
                details={"reason": "incompatible_parameters"} if self.reasons else None,
            )
        return stored

    def remember(self, account: str, key: str, stored: Stored) -> None:
        with self._lock:
            self._entries[(account, key)] = stored

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._processing.clear()
