"""CloudEvents 1.0 (structured JSON) for observed changes, with deterministic ids.

The id is a UUIDv5 over (provider, resource, id, facet, status, revision, occurrence): the same
transition always gets the same id on every replica and after every restart, so JetStream's
`Nats-Msg-Id` dedup and the outbox's beyond-window check can recognise it.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from bridge.ops.tracing import TRACE_HEADERS
from bridge.watch.model import Observation, PendingEvent, WatchSpec
from schemas.wire.events import CONTENT_TYPE as CONTENT_TYPE  # one content type, re-exported
from schemas.wire.events import CloudEvent, ResourceEventData, WatchLifecycleData

EVENT_ID_NAMESPACE = uuid.UUID("6f1d2c8e-5b0a-4e53-9a57-3c1b7d2e8f40")
_SUBJECT_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def event_id(provider: str, obs: Observation, occurrence: int) -> str:
    """Deterministic id of one transition; `occurrence` counts repeats of (status, revision)."""
    name = "|".join(
        [
            provider,
            obs.resource,
            obs.id,
            obs.facet or "",
            obs.status,
            str(obs.revision),
            str(occurrence),
            # Only for parts, so every id minted before parts existed stays the same.
            *([obs.part] if obs.part is not None else []),
        ]
    )
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, name))


def lifecycle_event_id(spec: WatchSpec, name: str, episode: str | float) -> str:
    """`watch.<name>` of one watch: `episode` tells repeats apart (the stall count, the arming)."""
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{spec.key}|watch.{name}|{episode}"))


def stalled_event_id(spec: WatchSpec, episode: int) -> str:
    return lifecycle_event_id(spec, "stalled", episode)


def subject_token(value: str) -> str:
    """A status as one NATS subject token: lower case, anything but [a-z0-9_-] becomes `_`."""
    return _SUBJECT_UNSAFE.sub("_", value.lower()) or "_"


def cloudevent(
    *,
    id: str,
    source: str,
    type: str,
    subject: str,
    time: float,
    data: dict[str, Any],
) -> dict[str, Any]:
    """A structured-mode CloudEvent document (the JSON that goes on the wire), made by the one
    CloudEvent model every event of the bridge is made by."""
    when = datetime.fromtimestamp(time, UTC)
    return CloudEvent(
        id=id, source=source, type=type, subject=subject, time=when, data=data
    ).to_dict()


def change_event(
    *,
    event_id: str,
    subject: str,
    source: str,
    type: str,
    obs: Observation,
    previous: str | None,
    observed_at: float,
    provider: str | None = None,
) -> PendingEvent:
    """The pending event for one observed change (`subject` is the full NATS subject)."""
    data = ResourceEventData(
        resource=obs.resource,
        id=obs.id,
        projectId=obs.project_id,
        status=obs.status,
        previousStatus=previous,
        revision=obs.revision,
        snapshot=obs.snapshot,
        facet=obs.facet,
        part=obs.part,
    ).to_dict()
    if obs.data:  # a provider's own fields (Syllaby's provider, storyboardId)
        data.update({k: v for k, v in obs.data.items() if k not in data})
    doc = cloudevent(
        id=event_id, source=source, type=type, subject=obs.subject_path, time=observed_at, data=data
    )
    return PendingEvent(
        id=event_id,
        subject=subject,
        payload=doc,
        staged_at=observed_at,
        provider=provider,
        changed_at=obs.as_of,
    )


def lifecycle_event(
    *,
    spec: WatchSpec,
    name: str,
    episode: str | float,
    subject: str,
    source: str,
    type_prefix: str,
    subject_path: str,
    project_id: str | None,
    observed_at: float,
    **extra: Any,
) -> PendingEvent:
    """`{p}.evt.watch.<name>` (stalled, recovered, gone, expired) for one watch; `extra` goes into
    `data` beside resource, id and projectId."""
    eid = lifecycle_event_id(spec, name, episode)
    data = WatchLifecycleData(
        resource=spec.resource, id=spec.id, projectId=project_id, **extra
    ).to_dict()
    doc = cloudevent(
        id=eid,
        source=source,
        type=f"{type_prefix}.watch.{name}",
        subject=subject_path,
        time=observed_at,
        data=data,
    )
    return PendingEvent(id=eid, subject=subject, payload=doc, staged_at=observed_at)


def bound_event(event: PendingEvent, limit: int) -> PendingEvent:
    """`event` with its snapshot cut down to the resource's scalar fields when the whole event
    would exceed `limit` bytes (more than NATS or the watch record can carry). `data` then says
    `snapshotTruncated: true`; the full object is one GET away."""
    size = len(json.dumps(event.payload, separators=(",", ":")))
    data = event.payload.get("data")
    if size <= limit or not isinstance(data, dict) or "snapshot" not in data:
        return event
    snapshot = data.get("snapshot")
    summary: Any = None
    if isinstance(snapshot, dict):
        summary = {
            k: v
            for k, v in snapshot.items()
            if isinstance(v, str | int | float | bool) and (not isinstance(v, str) or len(v) <= 256)
        }
    trimmed = {**data, "snapshot": summary, "snapshotTruncated": True}
    return event.model_copy(update={"payload": {**event.payload, "data": trimmed}})


def with_trace(event: PendingEvent, trace: dict[str, str] | None) -> PendingEvent:
    """`event` continuing the trace of the command that started its watch: `trace` goes out as NATS
    headers and as the CloudEvents distributed-tracing extension attributes. The id is unchanged."""
    carried = {k: v for k, v in (trace or {}).items() if k in TRACE_HEADERS}
    if "traceparent" not in carried:
        return event
    return event.model_copy(update={"payload": {**event.payload, **carried}, "trace": carried})
