"""Turning a provider's observations into facet-state updates and staged events (pure, no I/O).

Kept apart from the engine so the exactly-once rules are easy to read: an observation is an event
only when its change token differs from the last PUBLISHED state of that facet; `previousStatus`
is that last published status; the id counts repeats of the same (status, revision).
"""

from __future__ import annotations

from collections.abc import Sequence

from bridge.nats.streams import Subjects
from bridge.watch.events import change_event, event_id, stalled_event, with_trace
from bridge.watch.model import FacetState, Observation, PendingEvent, WatchRecord
from bridge.watch.provider import Provider


def stage_changes(
    record: WatchRecord,
    provider: Provider,
    observations: Sequence[Observation],
    subjects: Subjects,
    now: float,
) -> list[PendingEvent]:
    """Update `record.states` in place and return the new events, in observation order."""
    staged: list[PendingEvent] = []
    for obs in observations:
        if obs.silent:
            continue
        state = record.states.get(obs.state_key)
        if state is not None and state.token == obs.change_token:
            continue
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
        )
        staged.append(with_trace(event, record.spec.trace))
        occurrences[occurrence_key] = occurrence + 1
        record.states[obs.state_key] = FacetState(
            status=obs.status,
            token=obs.change_token,
            revision=obs.revision,
            seq=(state.seq if state is not None else 0) + 1,
            observed_at=now,
            occurrences=occurrences,
        )
    return staged


def stage_stall(
    record: WatchRecord,
    provider: Provider,
    subjects: Subjects,
    *,
    failures: int,
    last_error: str,
    now: float,
) -> PendingEvent:
    """Mark the record stalled (one event per stall episode) and return the watch.stalled event."""
    record.stalls += 1
    record.stalled = True
    record.failures = failures
    spec = record.spec
    event = stalled_event(
        spec=spec,
        episode=record.stalls,
        subject=subjects.event("watch.stalled"),
        source=provider.source,
        type_prefix=provider.type_prefix,
        subject_path=provider.subject_path(spec),
        project_id=provider.project_id(spec),
        failures=failures,
        last_error=last_error,
        observed_at=now,
    )
    return with_trace(event, spec.trace)
