"""storybridge_event_delay_seconds: the product's promise measured by a running bridge.

The rule (bridge.watch.delay) is pure and tested case by case; then a forced delay in the sandbox
(its clock set 30 s behind ours, as an API whose changes reach us late would look) is read back
from a live bridge process's /metrics; and a plan that changed two hours before watch.add picked it
up is `basis="initial"`, outside the SLO, while its change after the watch began counts.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from nats.aio.client import Client as NatsClient
from prometheus_client.parser import text_string_to_metric_families

from bridge.sandboxes.story import StorySandboxConfig
from bridge.sandboxes.story.config import StoryDurations
from bridge.sandboxes.story.world.kernel import EPOCH
from bridge.watch.delay import CLOCK_SKEW_SECONDS, MAX_PLAUSIBLE_SECONDS, event_delay
from bridge.watch.model import PendingEvent
from tests.fixtures.bridge import PLAN_TARGET, Outcomes, create_plan, send
from tests.fixtures.waiting import until

LAG = 30.0  # how far behind ours the sandbox's clock is set


def _event(
    *,
    staged_at: float,
    changed_at: str | None,
    provider: str | None = "story",
    initial: bool = False,
) -> PendingEvent:
    return PendingEvent(
        id="e",
        subject="story.evt.job.ready",
        payload={"type": "t", "data": {"resource": "job", "id": "j"}},
        staged_at=staged_at,
        provider=provider,
        changed_at=changed_at,
        initial=initial,
    )


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


class TestEventDelayRule:
    def test_a_plausible_updated_at_is_the_basis(self) -> None:
        """The API changed it 12 s before we published: 12 s, basis updated_at."""
        event = _event(staged_at=1000.0, changed_at=_iso(990.0))
        assert event_delay(event, 1002.0) == ("story", "job", "updated_at", 12.0)

    def test_a_change_stamped_in_our_future_is_measured_from_the_first_read(self) -> None:
        """A clock ahead of ours (beyond the skew) is not trusted: from the read, 2 s."""
        event = _event(staged_at=1000.0, changed_at=_iso(1000.0 + CLOCK_SKEW_SECONDS + 1))
        assert event_delay(event, 1002.0) == ("story", "job", "first_seen", 2.0)

    def test_an_implausibly_old_change_is_measured_from_the_first_read(self) -> None:
        """A fixed-epoch sandbox stamps months back: not the bridge's delay."""
        event = _event(staged_at=1e9, changed_at=_iso(1e9 - MAX_PLAUSIBLE_SECONDS - 1))
        assert event_delay(event, 1e9 + 0.5) == ("story", "job", "first_seen", 0.5)

    def test_without_updated_at_the_first_read_is_the_basis(self) -> None:
        event = _event(staged_at=1000.0, changed_at=None)
        assert event_delay(event, 1003.0) == ("story", "job", "first_seen", 3.0)

    def test_a_first_read_is_initial_measured_from_that_read(self) -> None:
        """Work already in flight when first read (changed an hour before): not the bridge's
        delay, 1 s from the read to the publish, basis initial."""
        event = _event(staged_at=1e9, changed_at=_iso(1e9 - 3600.0), initial=True)
        assert event_delay(event, 1e9 + 1.0) == ("story", "job", "initial", 1.0)

    def test_watch_lifecycle_events_are_not_measured(self) -> None:
        """Only resource changes carry a provider: watch.stalled and friends have no delay."""
        assert event_delay(_event(staged_at=1.0, changed_at=None, provider=None), 2.0) is None


@pytest.fixture
def sandbox_config() -> StorySandboxConfig:
    # Real time (x1), a plan done in 3 s: its stamps are then exactly the shifted clock's.
    return StorySandboxConfig(
        speed=1.0,
        rate_limit_per_minute=100_000,
        durations=StoryDurations(plan_start=1.0, plan_generate=2.0),
    )


def _samples(text: str, name: str, **labels: str) -> list[tuple[dict[str, str], float]]:
    return [
        (s.labels, s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]


def _scrape(url: str) -> str:
    """One Prometheus scrape of a bridge's /metrics (a short local GET)."""
    return httpx.get(url, timeout=5).text


@pytest.mark.slow
async def test_a_late_api_clock_shows_in_the_live_event_delay_histogram(
    bridge_process: Any, nc: NatsClient, outcomes: Outcomes, sandbox: Any
) -> None:
    """The sandbox's clock is set 30 s behind ours, so every change it makes is stamped 30 s
    before the bridge can see it: the plan's events land in the histogram above 30 s, measured
    from updatedAt, on /metrics of a running bridge."""
    now_in_sandbox = sandbox.control.get("/clock").json()["now"]
    behind = (datetime.now(UTC) - timedelta(seconds=LAG) - EPOCH).total_seconds()
    sandbox.control.post("/clock/advance", json={"seconds": behind - now_in_sandbox})
    bridge = bridge_process()
    metrics_url = f"http://127.0.0.1:{bridge.http_port}/metrics"

    project = (await send(nc, outcomes, "request", "project.create", {"name": "late"}))["result"]
    await create_plan(nc, outcomes, project["project"]["id"])
    labels = {"provider": "story", "resource": "plan", "basis": "updated_at"}

    def published() -> list[tuple[dict[str, str], float]]:
        text = _scrape(metrics_url)
        count = _samples(text, "storybridge_event_delay_seconds_count", **labels)
        return count if count and count[0][1] >= 2 else []

    started = time.monotonic()
    await until(published, limit=60, every=0.2)
    text = _scrape(metrics_url)
    count = _samples(text, "storybridge_event_delay_seconds_count", **labels)[0][1]
    total = _samples(text, "storybridge_event_delay_seconds_sum", **labels)[0][1]
    buckets = dict(
        (s_labels["le"], value)
        for s_labels, value in _samples(text, "storybridge_event_delay_seconds_bucket", **labels)
    )
    assert total / count >= LAG
    assert buckets["15.0"] == 0  # none faster than the forced delay
    assert buckets["+Inf"] == count
    # The delay is the sandbox's clock, not this test's waiting.
    assert total / count < LAG + (time.monotonic() - started) + 10


def _count(text: str, **labels: str) -> float:
    found = _samples(text, "storybridge_event_delay_seconds_count", **labels)
    return sum(value for _, value in found)


@pytest.mark.slow
async def test_a_plan_picked_up_mid_flight_is_initial_and_its_next_change_counts(
    bridge_process: Any, nc: NatsClient, outcomes: Outcomes, sandbox: Any, story_client: Any
) -> None:
    """A plan made straight on the API two hours ago (the sandbox's clock set back, then on to
    ours): watch.add reads it first, and that event is `basis="initial"`, not two hours of delay
    in the SLO's series. Approved after the watch began, its next change is measured from the
    API's updatedAt, seconds."""
    now_in_sandbox = sandbox.control.get("/clock").json()["now"]
    two_hours_ago = (datetime.now(UTC) - timedelta(hours=2) - EPOCH).total_seconds()
    sandbox.control.post("/clock/advance", json={"seconds": two_hours_ago - now_in_sandbox})
    pid = (await story_client.create_project({"name": "elsewhere"}, idempotency_key="t-p")).data.id
    body = {"target": PLAN_TARGET, "artifactRequests": [{"type": "table_read"}]}
    plan = (await story_client.create_plan(pid, body, idempotency_key="t-plan")).data
    # Two hours on: the plan finished then (awaiting approval), the sandbox is at our time again.
    sandbox.control.post("/clock/advance", json={"seconds": 2 * 3600.0}).raise_for_status()
    assert (await story_client.get_plan(plan.id)).data.status == "REQUIRES_APPROVAL"

    bridge = bridge_process()
    metrics_url = f"http://127.0.0.1:{bridge.http_port}/metrics"
    added = await send(nc, outcomes, "request", "watch.add", {"resource": "plan", "id": plan.id})
    assert added["ok"] is True, added
    plan_labels = {"provider": "story", "resource": "plan"}
    await until(
        lambda: _count(_scrape(metrics_url), basis="initial", **plan_labels) >= 1,
        limit=60,
        every=0.2,
    )
    text = _scrape(metrics_url)
    assert _count(text, basis="updated_at", **plan_labels) == 0
    assert _count(text, basis="first_seen", **plan_labels) == 0

    await story_client.approve_plan(plan.id, idempotency_key="t-approve")
    await until(
        lambda: _count(_scrape(metrics_url), basis="updated_at", **plan_labels) >= 1,
        limit=60,
        every=0.2,
    )
    text = _scrape(metrics_url)
    labels = {**plan_labels, "basis": "updated_at"}
    total = _samples(text, "storybridge_event_delay_seconds_sum", **labels)[0][1]
    buckets = {
        s_labels["le"]: value
        for s_labels, value in _samples(text, "storybridge_event_delay_seconds_bucket", **labels)
    }
    # Seconds (the poll after the approval), nowhere near the two hours before the watch.
    assert total < 3600.0 and buckets["1800.0"] == _count(text, **labels)
