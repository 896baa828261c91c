"""CloudEvents 1.0 in structured mode: the one model and serializer of every event the bridge
publishes, and one `data` model per event family (resource changes, watch lifecycle, bridge
circuit; the outcome document of command events is in `schemas.wire.outcome`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, field_serializer

CONTENT_TYPE = "application/cloudevents+json"
EVENT_TYPE_PREFIX = "studio.sleeperhit.story"


class EventData(BaseModel):
    """Base of the event families' `data`; `to_dict()` is what goes on the wire."""

    omitted_when_unset: ClassVar[tuple[str, ...]] = ()
    """Fields absent from the wire (not null) while None: added later, only where they apply."""

    def to_dict(self) -> dict[str, Any]:
        doc = self.model_dump(mode="json")
        for name in self.omitted_when_unset:
            if doc.get(name) is None:
                doc.pop(name, None)
        return doc


class ResourceEventData(EventData):
    """`data` of a status-change event. `snapshot` is the resource exactly as the API returned it
    (its scalar fields only, with `snapshotTruncated: true`, when the whole would not fit)."""

    omitted_when_unset = ("facet", "part", "snapshotTruncated")

    resource: str
    id: str
    projectId: str | None = None
    status: str
    previousStatus: str | None = None
    revision: int | None = None
    snapshot: Any = None
    facet: str | None = None
    part: str | None = None
    snapshotTruncated: bool | None = None


class WatchLifecycleData(EventData):
    """`data` of `watch.stalled` / `recovered` / `gone` / `expired`: the watched resource, plus
    what the event adds (e.g. the failures that stalled it)."""

    model_config = ConfigDict(extra="allow")

    resource: str
    id: str
    projectId: str | None = None


class BridgeCircuitData(EventData):
    """`data` of `bridge.degraded` / `bridge.recovered`: the provider whose circuit opened (or
    closed), the account-level code that opened it, since when, and (recovered) when it closed."""

    omitted_when_unset = ("at",)

    provider: str
    code: str | None = None
    message: str | None = None
    since: str
    at: str | None = None


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
