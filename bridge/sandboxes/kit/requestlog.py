"""The request log tests read through `GET /_sandbox/requests`: what the sandbox saw, and answered.

Bounded (the newest 50,000 entries), so a long benchmark run cannot grow the process without end.
Never holds the Authorization header: a caller is recorded, if at all, by a non-secret label.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from bridge.sandboxes.kit.faults import path_matches

MAX_ENTRIES = 50_000


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str  # after the API's base path
    query: str
    status: int  # 0: the connection was dropped, or the request hangs and has no answer yet
    time: float  # epoch seconds, wall time
    requestId: str
    idempotencyKey: str | None = None  # the Story API's header; Syllaby has none
    replayed: bool = False  # answered from the idempotency store
    sandboxTime: float = 0.0  # the sandbox clock when it arrived
    fault: str | None = None  # "error", "storm_429", "drop", "drop_after", "hang", "latency", ...
    traceparent: str | None = None  # the W3C trace context the client sent, if any

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RequestLog:
    def __init__(self, limit: int = MAX_ENTRIES) -> None:
        self._entries: deque[LoggedRequest] = deque(maxlen=limit)
        self._lock = threading.Lock()

    def add(self, entry: LoggedRequest) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self, path: str | None = None, method: str | None = None) -> list[LoggedRequest]:
        """Oldest first; `path` is a glob (or a `^regex`) on the path after the base path."""
        with self._lock:
            entries = list(self._entries)
        if path:
            entries = [e for e in entries if path_matches(path, e.path)]
        if method:
            entries = [e for e in entries if e.method == method.upper()]
        return entries

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
