"""One request on its way through a sandbox's pipeline, and what the request log keeps of it."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any, ClassVar

from starlette.requests import Request

from bridge.sandboxes.kit.requestlog import LoggedRequest


@dataclass
class Exchange:
    """A provider's pipeline subclasses it with its `base_path` and its own fields."""

    base_path: ClassVar[str] = ""

    request: Request
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200
    body: Any = None
    fault: str | None = None

    @property
    def method(self) -> str:
        return self.request.method

    @property
    def path(self) -> str:
        """The path after the API's base path, as fault rules and the log see it."""
        return self.request.url.path[len(self.base_path) :]

    @property
    def client_ip(self) -> str:
        return self.request.client.host if self.request.client else ""

    def entry(self, status: int, sandbox_time: float, **extra: Any) -> LoggedRequest:
        """The log entry; never the Authorization header."""
        return LoggedRequest(
            method=self.method,
            path=self.path,
            query=self.request.url.query,
            status=status,
            time=time.time(),
            requestId=self.request_id,
            sandboxTime=sandbox_time,
            fault=self.fault,
            traceparent=self.request.headers.get("traceparent"),
            **extra,
        )
