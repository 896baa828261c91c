"""The API's response envelopes: singles wrapped under a key, lists as `{<key>: [...], nextCursor}`.

Which key wraps what is data, kept here once, so the client and the sandbox cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

T = TypeVar("T", bound=BaseModel)

ENVELOPE_KEYS: dict[str, str] = {
    "project": "project",
    "source": "source",
    "plan": "plan",
    "job": "job",
    "artifact": "artifact",  # field notes: GET /artifacts/{id} nests under "artifact"
    "credits": "credits",
    "series_bible": "document",
    "coverage": "coverage",  # {"coverage": null} until coverage was requested
    "music": "music",
    "sfx": "sfx",
    "script": "script",
    "refine": "storyJob",  # POST /artifacts/{id}/refine answers the job it started
}
"""Resource (or action) -> the key its single object is wrapped under."""

PAGE_KEYS: dict[str, str] = {
    "project": "projects",
    "source": "sources",
    "plan": "plans",
    "job": "jobs",
    "artifact": "artifacts",  # GET /story-jobs/{id}/artifacts: no nextCursor
}
"""Resource -> the key of its list endpoint's items."""


class EnvelopeError(ValueError):
    """The payload is not the envelope the endpoint documents."""


def unwrap(payload: Any, key: str) -> Any:
    """The object under `key` (which may be null, e.g. coverage before it was requested).

    Tolerates an unwrapped payload for single resources: if `key` is absent but the payload looks
    like the object itself (it has an `id`), it is returned as is.
    """
    if not isinstance(payload, Mapping):
        raise EnvelopeError(f"expected a JSON object with {key!r}, got {type(payload).__name__}")
    if key in payload:
        return payload[key]
    if "id" in payload:
        return payload
    raise EnvelopeError(f"expected {key!r} in the response, got keys {sorted(payload)}")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list endpoint; `next_cursor` is None on the last page."""

    items: list[T]
    next_cursor: str | None = None

    @classmethod
    def parse(cls, payload: Any, key: str, model: type[T]) -> Page[T]:
        """`{key: [...], "nextCursor": ...}` -> a Page of `model` (every item validated)."""
        if not isinstance(payload, Mapping) or not isinstance(payload.get(key), list):
            raise EnvelopeError(f"expected a list under {key!r}")
        cursor = payload.get("nextCursor")
        return cls(
            items=[model.model_validate(item) for item in payload[key]],
            next_cursor=cursor if isinstance(cursor, str) and cursor else None,
        )
