"""Turning a provider's observations into facet-state updates and staged events (pure, no I/O).

Kept apart from the engine so the exactly-once rules are easy to read: an observation is an event
only when its change token differs from the last PUBLISHED state of that facet and it is not older
than that state; `previousStatus` is that last published status; the id counts repeats of the same
(status, revision). All of it is state of the resource's own record, so two watches that observe
one resource share one chain and one count.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bridge.names import Subjects
from bridge.watch.events import change_event, event_id, lifecycle_event, with_trace
from bridge.watch.model import FacetState, Observation, PendingEvent, WatchRecord
from bridge.watch.provider import Provider


def stage_changes(
    record: WatchRecord,
    provider: Provider,
    observations: Sequence[Observation],
    subjects: Subjects,
    now: float,
    *,
    after_seq: int = 0,
) -> list[PendingEvent]:
    """Update `record.states` in place and return the new events, in observation order."""
    staged: list[PendingEvent] = []
    # No facet of this resource recorded yet: nothing of it was read before, so whatever it shows
    # changed before the bridge looked (event delay basis `initial`).
    initial = not record.states
    for obs in observations:
        if obs.silent:
            continue
        state = record.states.get(obs.state_key)
        if state is not None and state.token == obs.change_token:
            if obs.as_of and (state.as_of or "") < obs.as_of:
                state.as_of = obs.as_of
            continue
        if state is not None and obs.as_of and state.as_of and obs.as_of < state.as_of:
            continue  # a read older than what is recorded (another watch saw a later state)
        occurrence_key = f"{obs.status}@{obs.revision}"
        occurrences = dict(state.occurrences) if state is not None else {}
        occurrence = occurrences.get(occurrence_key, 0)
        eid = event_id(provider.name, obs, occurrence)
        event = change_event(
            event_id=eid,
            subject=subjects.event(provider.event_subject(obs)),
            source=provider.source,
            type=provider.event_type(obs),
            obs=obs,
            previous=state.status if state is not None else None,
            observed_at=now,
            provider=provider.name,
        )
        event.after_seq = after_seq
        event.initial = initial
        staged.append(with_trace(event, record.spec.trace))
        occurrences[occurrence_key] = occurrence + 1
        record.states[obs.state_key] = FacetState(
            status=obs.status,
            token=obs.change_token,
            revision=obs.revision,
            seq=(state.seq if state is not None else 0) + 1,
            observed_at=now,
            as_of=obs.as_of,
            occurrences=occurrences,
        )
    return staged


def stage_lifecycle(
    record: WatchRecord,
    provider: Provider,
    subjects: Subjects,
    name: str,
    *,
    episode: str | float,
    now: float,
    after_seq: int = 0,
    **data: Any,
) -> PendingEvent:
    """The `watch.<name>` event of `record` (stalled, recovered, gone, expired)."""
    spec = record.spec
    event = lifecycle_event(
        spec=spec,
        name=name,
        episode=episode,
        subject=subjects.event(f"watch.{name}"),
        source=provider.source,
        type_prefix=provider.type_prefix,
        subject_path=provider.subject_path(spec),
        project_id=provider.project_id(spec),
        observed_at=now,
        # Optional provider member: fields every lifecycle event of its watches carries.
        **{**_lifecycle_data(provider, spec), **data},
    )
    event.after_seq = after_seq
    return with_trace(event, spec.trace)


def _lifecycle_data(provider: Provider, spec: Any) -> dict[str, Any]:
    extra = getattr(provider, "lifecycle_data", None)
    return dict(extra(spec)) if callable(extra) else {}


def stage_stall(
    record: WatchRecord,
    provider: Provider,
    subjects: Subjects,
    *,
    failures: int,
    last_error: str,
    now: float,
    after_seq: int = 0,
) -> PendingEvent:
    """Mark the record stalled (one event per stall episode) and return the watch.stalled event."""
    record.stalls += 1
    record.stalled = True
    record.failures = failures
    return stage_lifecycle(
        record,
        provider,
        subjects,
        "stalled",
        episode=record.stalls,
        now=now,
        after_seq=after_seq,
        failures=failures,
        lastError=last_error,
    )
