"""What the routes see: `SyllabyEndpoint` declares one, `SyllabyCall` reads the request, an
`Answer` (the kit's) answers.

Everything cross-cutting (token, rate limit, subscription gate, faults, the request log, the error
rendering) happens around the handler in `app`, so a route is only: look up, validate, act.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from bridge.sandboxes.kit.answer import Answer
from bridge.sandboxes.syllaby.errors import not_found
from bridge.sandboxes.syllaby.scenes import SceneRec
from bridge.sandboxes.syllaby.storyboards import StoryboardRec
from bridge.sandboxes.syllaby.validation import validate
from bridge.sandboxes.syllaby.world import SyllabyWorld

M = TypeVar("M", bound=BaseModel)


def envelope(data: Any, status: int = 200, **extra: Any) -> dict[str, Any]:
    """The reference's success body: `{message, status, data}` (render adds `meta`)."""
    return {"message": "Success.", "status": status, "data": data, **extra}


def ok(data: Any, status: int = 200, **extra: Any) -> Answer:
    return Answer(envelope(data, status, **extra), status)


@dataclass
class SyllabyCall:
    world: SyllabyWorld
    params: dict[str, str]
    body: Any

    def _int_param(self, name: str) -> int:
        # An id that is not an integer matches no row: 404, as route model binding answers.
        raw = self.params.get(name, "")
        if not raw.isdigit():
            raise not_found()
        return int(raw)

    def storyboard(self) -> StoryboardRec:
        name = "storyboard" if "storyboard" in self.params else "id"
        return self.world.storyboard(self._int_param(name))

    def scene(self, storyboard: StoryboardRec) -> SceneRec:
        return self.world.scene(storyboard, self._int_param("scene"))

    def body_as(self, model: type[M]) -> M:
        return validate(model, self.body)


# What an endpoint does with a call (named as in the Story sandbox).
Behaviour = Callable[[SyllabyCall], Awaitable[Answer]]


@dataclass(frozen=True)
class SyllabyEndpoint:
    """`path` is a Starlette path after the base path, e.g. "/text-to-scene/{storyboard}/render"."""

    method: str
    path: str
    handler: Behaviour
    operation: str  # the reference's operationId
