"""How late a resource event went out (`storybridge_event_delay_seconds`, pure).

The contract's measure: publish time minus the API's `updatedAt` of the change, where the API
gives one; otherwise from the first read that saw it (the event's `staged_at`). The API's clock is
trusted only where it is plausible against ours: a change stamped in the future of the read that
saw it (beyond a small skew), or long before it, says the clocks disagree (the sandboxes stamp from
a fixed epoch at a sped-up clock), and such an event is measured from its first read instead,
labelled `basis="first_seen"`, so a wrong clock never reads as a slow bridge.

The first read the bridge ever makes of a resource (a watch.add or a discovery of work already in
flight) shows changes made before the bridge could have seen them: hours of "delay" that are not
the bridge's. Those events are measured from that read and labelled `basis="initial"`; the SLO
(alert rules, dashboard) counts only `updated_at` and `first_seen`, changes the bridge had the
chance to see sooner.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final, Literal

from bridge.watch.model import PendingEvent

Basis = Literal["updated_at", "first_seen", "initial"]

CLOCK_SKEW_SECONDS: Final = 5.0
# Older than this before the read that saw it, an updatedAt is not this change's time: it is a
# clock from elsewhere (a resource first watched long after it changed is `initial` instead).
MAX_PLAUSIBLE_SECONDS: Final = 6 * 3600.0


def api_time(value: str | None) -> float | None:
    """An API timestamp (ISO 8601, `Z` or an offset) as epoch seconds; None if it is not one."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo is not None else None


def event_delay(event: PendingEvent, published_at: float) -> tuple[str, str, Basis, float] | None:
    """(provider, resource, basis, seconds) of a resource change event; None for any other event
    (watch lifecycle events, or events staged before this was recorded)."""
    if event.provider is None:
        return None
    data = event.payload.get("data")
    resource = str(data.get("resource") or "") if isinstance(data, dict) else ""
    read = event.staged_at
    if event.initial:
        return event.provider, resource, "initial", max(0.0, published_at - read)
    changed = api_time(event.changed_at)
    if changed is not None and read - MAX_PLAUSIBLE_SECONDS <= changed <= read + CLOCK_SKEW_SECONDS:
        return event.provider, resource, "updated_at", max(0.0, published_at - changed)
    return event.provider, resource, "first_seen", max(0.0, published_at - read)
