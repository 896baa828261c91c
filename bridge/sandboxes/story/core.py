"""What endpoint modules see: `StoryEndpoint` declares a route, `StoryCall` reads the request,
`Answer` (the kit's) carries a status or headers of its own.

Everything cross-cutting (auth, scopes, rate limits, idempotency, faults, the request log, the
error envelope) happens around the handler in `bridge.sandboxes.story.app`, so an endpoint
is only its behaviour.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from bridge.sandboxes.story.errors import StorySandboxError

if TYPE_CHECKING:
    from bridge.sandboxes.story.world import StoryWorld

M = TypeVar("M", bound=BaseModel)
Idempotency = Literal["required", "optional", "none"]


@dataclass
class StoryCall:
    """One request, as an endpoint handler sees it."""

    world: StoryWorld
    params: dict[str, str]
    query: Mapping[str, str]
    body: Any
    key: str  # the caller's key prefix: one account per key in the sandbox

    @property
    def now(self) -> float:
        return self.world.clock.now()

    def body_as(self, model: type[M], *, optional: bool = False) -> M:
        """Validate the JSON body; a failure is `422 validation_failed` naming the field."""
        data = self.body
        if data is None and optional:
            data = {}
        if not isinstance(data, dict):
            raise StorySandboxError("validation_failed", "body: expected a JSON object")
        try:
            return model.model_validate(data)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            raise StorySandboxError(
                "validation_failed", f"{where}: {first['msg']}", details={"field": where}
            ) from None


# What an endpoint does with a call: its JSON body (200), or an `Answer`.
Behaviour = Callable[[StoryCall], Awaitable[Any]]


@dataclass(frozen=True)
class StoryEndpoint:
    """`path` is a Starlette path after /api/v1, e.g. "/story-jobs/{jobId}/cancel"."""

    method: str
    path: str
    handler: Behaviour
    scope: str | None = "story:read"  # None: no auth (openapi.json, examples)
    idempotency: Idempotency = "none"
