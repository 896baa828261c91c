"""What every store shares: the API's timestamps, integer ids per table, seeded uuids and hashes."""

from __future__ import annotations

import hashlib
import itertools
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

EPOCH = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
CDN = "https://cdn.syllaby.dev"


def stamp(seconds: float) -> str:
    """Sandbox seconds as the API's timestamp, e.g. 2026-01-01T12:00:04.250000Z (microseconds)."""
    return (EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class SyllabyIds:
    """Integer ids counting from 1 per table (as database rows do), seeded opaque uuids/hashes."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._tables: defaultdict[str, Iterator[int]] = defaultdict(lambda: itertools.count(1))
        self._tokens = itertools.count(1)

    def next(self, table: str) -> int:
        return next(self._tables[table])

    def token(self, prefix: str = "", size: int = 12) -> str:
        n = next(self._tokens)
        digest = hashlib.sha256(f"{self.seed}:{prefix}:{n}".encode()).hexdigest()[:size]
        return f"{prefix}_{digest}" if prefix else digest
