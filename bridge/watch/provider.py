"""The seam between the watch engine and one upstream API (the Story API today, others later).

The engine schedules, stores, deduplicates and publishes; a `Provider` only knows how to read its
resources (batched however is cheapest), how to split what it read into facet observations, when a
watch is finished, how often to poll, and how its events are named. Nothing upstream-specific may
live in the engine.

Optional members (the engine checks for them):

- `default_facets(spec) -> tuple[str, ...]`, what `facets=None` follows; with it, a watch with the
  defaults merged with one naming other facets follows both (without it, None absorbs);
- `poll_class(spec, statuses) -> int`, the odds of change (`bridge.watch.policy`: HOT 0, NORMAL 1,
  COLD 2) from the record's facet statuses (state key -> status); without it every watch is NORMAL;
- `poll_capacity(share) -> float | None`, the calls per second (unscaled) polls may spend right
  now out of `share` of the provider's rate budget; without it (or None) floors alone decide.
- `lifecycle_data(spec) -> dict`, fields added to the `data` of the watch's lifecycle events
  (watch.stalled, recovered, gone, expired), e.g. Syllaby's `provider`. A change event's own
  extra fields come with its observation (`Observation.data`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Protocol, runtime_checkable

from bridge.watch.model import Listing, Observation, ReadError, Reading, WatchSpec


@runtime_checkable
class Provider(Protocol):
    """One upstream API. `name` is the first token of watch keys and part of every event id."""

    name: str
    resources: tuple[str, ...]
    source: str  # the CloudEvent `source`: the API base URL
    type_prefix: str  # CloudEvent type prefix, e.g. "studio.sleeperhit.story"

    async def read(self, specs: Sequence[WatchSpec]) -> dict[str, Reading | ReadError]:
        """Read every spec, keyed by `spec.key`. A missing key counts as a failed read."""
        ...

    def batch_key(self, spec: WatchSpec) -> str | None:
        """Watches sharing a key are read by one call (a list endpoint), so the engine polls them
        together as soon as one of them is due; None for a watch read on its own."""
        ...

    def observe(self, spec: WatchSpec, reading: Reading) -> list[Observation]:
        """Every facet state in `reading` that this watch follows, in publishing order."""
        ...

    def is_terminal(self, spec: WatchSpec, observations: Sequence[Observation]) -> bool:
        """True when every followed facet reached a state that will not change by itself."""
        ...

    def interval_bounds(self, resource: str) -> tuple[float, float]:
        """(min, max) seconds between polls of this resource type, before `interval_scale`: the poll policy
        never reads a watch more often than `min` (a COLD one: `max`)."""
        ...

    def event_subject(self, obs: Observation) -> str:
        """The subject suffix after `{p}.evt.`, e.g. `job.ready`, `source.digest.ready`."""
        ...

    def event_type(self, obs: Observation) -> str:
        """The CloudEvent `type`, e.g. `studio.sleeperhit.story.job.ready`."""
        ...

    def subject_path(self, spec: WatchSpec) -> str:
        """The CloudEvent `subject` for the watched resource itself (used by watch.stalled)."""
        ...

    def project_id(self, spec: WatchSpec) -> str | None:
        """The parent project of the watched resource when known (used by watch.stalled)."""
        ...

    def discover(self) -> AsyncIterator[WatchSpec | Listing]:
        """Non-terminal resources to watch without being told (origin "discovery"); a `Listing`
        page also serves as a read of the watches of the resources it shows."""
        ...
