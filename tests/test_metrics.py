"""Metrics: one registry per bridge, bounded labels, Prometheus text output."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from prometheus_client.parser import text_string_to_metric_families

from bridge.http.ratelimit import Priority
from bridge.ops.metrics import OTHER, Metrics, route_template


@dataclass
class _Error:
    code: str


@dataclass
class _Outcome:
    command: str
    ok: bool
    error: _Error | None = None


@dataclass
class _Execution:
    outcome: _Outcome
    duration: float


def _sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    """The value of one sample in the rendered text, as a scraper would read it."""
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return None


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/story-jobs/cmj_123/cancel", "/story-jobs/{id}/cancel"),
        ("/api/v1/story-jobs/cmj1x2y3z4", "/api/v1/story-jobs/{id}"),
        ("/story-projects/cmp9/sources/cmdoc7?limit=5", "/story-projects/{id}/sources/{id}"),
        ("/artifacts/cma42/render-video", "/artifacts/{id}/render-video"),
        ("/story-projects", "/story-projects"),
        ("credits", "/credits"),
    ],
)
def test_route_template_replaces_ids_and_keeps_endpoint_words(path: str, route: str) -> None:
    """Ids (digits/underscores) become {id}; endpoint words, versions stay; the query goes."""
    assert route_template(path) == route


def test_two_metrics_objects_do_not_share_a_registry() -> None:
    """Each Metrics has its own registry: two bridges in one process never mix."""
    first, second = Metrics(), Metrics()
    first.watch_stalled()
    assert _sample(first, "storybridge_watch_stalled_total") == 1.0
    assert _sample(second, "storybridge_watch_stalled_total") == 0.0


def test_command_outcomes_are_counted_by_name_and_error_code() -> None:
    """A success counts as outcome=ok, a failure as its error code; durations observed."""
    m = Metrics()
    m.observe_command(_Execution(_Outcome("plan.approve", True), 0.2), "durable")
    m.observe_command(
        _Execution(_Outcome("plan.approve", False, _Error("insufficient_credits")), 0.1), "request"
    )
    ok = _sample(m, "storybridge_commands_total", command="plan.approve", outcome="ok")
    failed = _sample(
        m, "storybridge_commands_total", command="plan.approve", outcome="insufficient_credits"
    )
    assert (ok, failed) == (1.0, 1.0)
    assert _sample(m, "storybridge_command_duration_seconds_count", command="plan.approve") == 2.0


def test_command_names_beyond_the_cap_collapse_into_other() -> None:
    """Random subjects cannot grow the scrape without bound: past the cap, names become `other`."""
    m = Metrics(max_commands=2, process=False)
    for name in ("a.x", "b.x", "c.x", "d.x"):
        m.observe_command(_Execution(_Outcome(name, False, _Error("invalid_command")), 0.0))
    assert _sample(m, "storybridge_commands_total", command=OTHER) == 2.0
    assert _sample(m, "storybridge_commands_total", command="c.x") is None


def test_error_codes_the_api_invents_cannot_grow_the_outcome_label() -> None:
    """The outcome is the API's error code: one that is not code-shaped, or past the cap of
    distinct codes, reads `other` in both the counter and the latency histogram."""
    m = Metrics(max_outcomes=2, process=False)
    for code in ("upstream_unavailable", "Weird Code: 42", "a_code", "yet_another"):
        m.observe_command(_Execution(_Outcome("plan.approve", False, _Error(code)), 0.0))
    counted = {
        labels: _sample(m, "storybridge_commands_total", outcome=labels)
        for labels in ("upstream_unavailable", OTHER, "a_code", "yet_another")
    }
    assert counted == {"upstream_unavailable": 1.0, OTHER: 3.0, "a_code": None, "yet_another": None}
    latency = _sample(m, "storybridge_command_latency_seconds_count", outcome=OTHER)
    assert latency == 3.0


def test_api_requests_are_labelled_by_template_and_status() -> None:
    """Two calls on different job ids land in one series; a transport error has status=error."""
    m = Metrics()
    m.observe_api_request("get", "/story-jobs/cmj_1", 200, 0.05)
    m.observe_api_request("GET", "/story-jobs/cmj_2", 200, 0.05)
    m.observe_api_request("POST", "/story-jobs/cmj_2/cancel", None, 1.0)
    route = "/story-jobs/{id}"
    assert _sample(m, "storybridge_api_requests_total", route=route, status="200") == 2.0
    cancel = "/story-jobs/{id}/cancel"
    assert _sample(m, "storybridge_api_requests_total", route=cancel, status="error") == 1.0
    assert _sample(m, "storybridge_api_request_duration_seconds_count", route=route) == 2.0


def test_rate_wait_accumulates_seconds_per_priority() -> None:
    """The RateBudget on_wait hook adds waited seconds under the priority's lower-case name."""
    m = Metrics()
    m.observe_rate_wait(Priority.POLL, 1.5)
    m.observe_rate_wait(Priority.POLL, 0.5)
    m.observe_rate_wait(Priority.COMMAND, 0.0)
    assert _sample(m, "storybridge_rate_limit_wait_seconds_total", priority="poll") == 2.0
    assert _sample(m, "storybridge_rate_limit_wait_seconds_total", priority="command") is None


def test_detection_latency_is_publish_time_minus_previous_poll() -> None:
    """An event with a previous poll records the bound; a first sighting only counts the event."""
    m = Metrics()
    kind = "studio.sleeperhit.story.job.running"
    m.observe_event_published(kind, previous_poll_at=100.0, published_at=104.0)
    m.observe_event_published(kind)
    assert _sample(m, "storybridge_events_published_total", type=kind) == 2.0
    assert _sample(m, "storybridge_detection_latency_seconds_count") == 1.0
    assert _sample(m, "storybridge_detection_latency_seconds_sum") == 4.0


def test_gauges_report_the_latest_value() -> None:
    """watches_active and poll_lag are set, not accumulated; negative lag reads as 0."""
    m = Metrics()
    m.set_watches_active("job", 3)
    m.set_watches_active("job", 2)
    m.set_poll_lag(-1.0)
    assert _sample(m, "storybridge_watches_active", resource="job") == 2.0
    assert _sample(m, "storybridge_poll_lag_seconds") == 0.0


def test_command_latency_counts_from_the_publish_time() -> None:
    """A durable command published 90 s ago and answered now: 90 s, by command and outcome; a
    request without a publish time: its execution's duration."""
    from datetime import UTC, datetime, timedelta

    m = Metrics(process=False)
    published = datetime.now(UTC) - timedelta(seconds=90)
    m.observe_command(_Execution(_Outcome("plan.approve", True), 0.2), "durable", published)
    m.observe_command(
        _Execution(_Outcome("plan.approve", False, _Error("upstream_unavailable")), 0.5), "request"
    )
    latency = "storybridge_command_latency_seconds_sum"
    ok = _sample(m, latency, command="plan.approve", outcome="ok")
    assert ok is not None and 90.0 <= ok < 120.0
    assert _sample(m, latency, command="plan.approve", outcome="upstream_unavailable") == 0.5


def test_event_delay_is_labelled_by_basis_and_summarised_for_status() -> None:
    """Observations land by provider, resource and basis; the recent window gives p50/p95 and
    bucket counts a fleet merges (bucket_quantile interpolates like histogram_quantile)."""
    from bridge.ops.fleet_metrics import bucket_quantile
    from bridge.ops.metrics import EVENT_DELAY_BUCKETS

    m = Metrics(process=False)
    for seconds in (1.0, 2.0, 3.0, 40.0):
        m.observe_event_delay("story", "job", "updated_at", seconds)
    m.observe_event_delay("syllaby", "scene", "first_seen", -1.0)  # a skewed clock reads as 0
    name = "storybridge_event_delay_seconds_count"
    assert _sample(m, name, provider="story", resource="job", basis="updated_at") == 4.0
    assert _sample(m, "storybridge_event_delay_seconds_sum", basis="first_seen") == 0.0
    summary = m.delay_summary()
    assert (summary["count"], summary["p50"], summary["p95"], summary["max"]) == (
        5,
        2.0,
        40.0,
        40.0,
    )
    assert sum(summary["buckets"]) == 5
    merged = [a + b for a, b in zip(summary["buckets"], summary["buckets"], strict=True)]
    median = bucket_quantile(merged, EVENT_DELAY_BUCKETS, 0.5)
    assert median is not None and 1.0 <= median <= 2.0


def test_watch_gauges_forget_combinations_that_are_gone() -> None:
    """A (provider, resource, state) no longer counted reads 0 rather than its last value."""
    m = Metrics(process=False)
    m.fleet.set_watches({("story", "job", "stalled"): 3, ("story", "job", "active"): 5})
    m.fleet.set_watches({("story", "job", "active"): 8})
    assert _sample(m, "storybridge_watches", resource="job", state="stalled") == 0.0
    assert _sample(m, "storybridge_watches", resource="job", state="active") == 8.0


def test_a_replica_cut_off_from_nats_stops_exporting_what_it_read_of_the_fleet() -> None:
    """Once its reports fail, the fleet-wide gauges read NaN (PromQL's max() then takes a
    replica that can read NATS) and the report timestamp keeps the time of the last good one;
    its own watch counts are not fleet-wide and stay."""
    import math

    m = Metrics(process=False)
    m.fleet.shards_unowned.set(4)
    m.fleet.commands_ack_pending.set(2)
    m.fleet.report_timestamp_seconds.set(1_000.0)
    m.fleet.set_watches({("story", "job", "active"): 5})
    m.fleet.mark_stale()
    for name in ("storybridge_shards_unowned", "storybridge_commands_ack_pending"):
        value = _sample(m, name)
        assert value is not None and math.isnan(value), name
    assert _sample(m, "storybridge_fleet_report_timestamp_seconds") == 1_000.0
    assert _sample(m, "storybridge_watches", resource="job", state="active") == 5.0
