"""CloudEvents 1.0 in structured mode, as the bridge publishes them."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, field_serializer

CONTENT_TYPE = "application/cloudevents+json"
EVENT_TYPE_PREFIX = "studio.sleeperhit.story"


class ResourceEventData(BaseModel):
    """`data` of a status-change event. `snapshot` is the resource exactly as the API returned it."""

    resource: str
    id: str
    projectId: str | None = None
    status: str
    previousStatus: str | None = None
    facet: str | None = None
    snapshot: dict[str, Any]


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 event; `to_json()` is the structured-mode body (`CONTENT_TYPE`)."""

    specversion: Literal["1.0"] = "1.0"
    id: str
    source: str
    type: str
    subject: str | None = None
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    data: Any = None
    # CloudEvents distributed-tracing extension: set only when the bridge traces (absent otherwise).
    traceparent: str | None = None
    tracestate: str | None = None

    @field_serializer("time")
    def _rfc3339(self, value: datetime) -> str:
        # RFC 3339 needs an offset: a naive time is taken as UTC, every time is written in UTC ("Z").
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def to_dict(self) -> dict[str, Any]:
        # Not exclude_none: it would also strip nulls inside `data` (previousStatus: null is contract).
        doc = self.model_dump(mode="json")
        for optional in ("subject", "traceparent", "tracestate"):
            if doc[optional] is None:
                del doc[optional]
        return doc

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), separators=(",", ":")).encode()
