"""`storybridge bench` end to end with tiny parameters: every figure measured, none judged.

No assertion here is about speed: only that each figure exists, is finite and positive, and that
the baselines (the naive poller, the raw responder) really ran beside the bridge.
"""

from __future__ import annotations

import io
import math
from typing import Any

import pytest
from rich.console import Console

from bridge.cli.bench.common import SandboxTimeBudget, Stats, api_seconds, percentile
from bridge.cli.bench.run import auto_speed, run_bench
from bridge.sandboxes.kit.clock import SandboxClock

JOBS, PROJECTS, COMMANDS, STUCK = 12, 2, 10, 20


def positive(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def report() -> tuple[dict[str, Any], str]:
    """One tiny bench run shared by the module's tests (it takes a few seconds)."""
    import asyncio

    out = io.StringIO()
    console = Console(file=out, width=200, force_terminal=False)
    figures = asyncio.run(
        run_bench(
            console,
            jobs=JOBS,
            projects=PROJECTS,
            rate=120,
            commands=COMMANDS,
            speed=50.0,
            window=10.0,
            lead=40.0,
            concurrency=(1, 4),
            repeat=2,
            mixed_per_minute=60.0,
            isolation_stuck=STUCK,
            isolation_healthy=5,
        )
    )
    return figures, out.getvalue()


def test_both_pollers_see_every_job_ready(report: tuple[dict[str, Any], str]) -> None:
    """The bridge and the naive poller each detect all jobs, with positive finite latencies."""
    poller = report[0]["poller"]
    for name in ("bridge", "naive"):
        figures = poller[name]
        assert figures["detected"] == JOBS, name
        assert figures["latency_seconds"]["count"] == JOBS, name
        for key in ("p50", "p95", "max"):
            assert positive(figures["latency_seconds"][key]), (name, key)


def test_each_poller_row_carries_its_bound_and_efficiency(
    report: tuple[dict[str, Any], str],
) -> None:
    """The bound is one sweep (2 projects: 2 list calls) at the poll budget, never under 5 s;
    efficiency is bound p95 / measured p95; no 60 s window holds more calls than the budget."""
    poller = report[0]["poller"]
    bound = poller["bridge"]["bound_seconds"]
    assert bound["sweep_calls"] == PROJECTS
    assert bound["period"] == max(5.0, PROJECTS / (0.8 * 120 / 60))
    for run in report[0]["runs"]:  # per run: the top level holds medians of each figure
        for name in ("bridge", "mixed", "naive"):
            figures = run["poller"][name]
            assert figures["detected"] == JOBS, name
            assert figures["efficiency_p95"] == pytest.approx(
                figures["bound_seconds"]["p95"] / figures["latency_seconds"]["p95"]
            )
            assert 0 < figures["max_calls_in_60s"] <= 120, name
    assert poller["naive"]["bound_seconds"]["sweep_calls"] == JOBS
    assert "efficiency" in report[1] and "bound" in report[1]


def test_the_mixed_run_reports_each_commands_wait_for_the_budget(
    report: tuple[dict[str, Any], str],
) -> None:
    """Commands sent while the bridge polls: their waits for a budget slot are measured."""
    wait = report[0]["poller"]["mixed"]["command_wait_seconds"]
    assert wait["count"] > 0 and wait["p99"] >= 0


def test_figures_are_medians_of_the_repeats_with_their_spread(
    report: tuple[dict[str, Any], str],
) -> None:
    """Two runs: every top-level figure is their median, `spread` holds [min, max]."""
    figures = report[0]
    assert len(figures["runs"]) == 2
    values = [run["poller"]["bridge"]["calls"] for run in figures["runs"]]
    assert figures["poller"]["bridge"]["calls"] == pytest.approx(sum(values) / 2)
    assert figures["spread"]["poller"]["bridge"]["calls"] == [min(values), max(values)]


def test_poller_calls_come_from_the_sandbox_log(report: tuple[dict[str, Any], str]) -> None:
    """Both pollers made API calls in their window, none rejected, and each read every job."""
    poller = report[0]["poller"]
    for name in ("bridge", "naive"):
        figures = poller[name]
        assert figures["calls"] > 0, name
        assert figures["rejected_429"] == 0, name
        assert positive(figures["calls_per_minute"]), name
        assert positive(figures["window_api_seconds"]), name
    assert poller["naive"]["calls"] >= JOBS  # one GET per job at the very least


def test_poller_ratios_are_finite(report: tuple[dict[str, Any], str]) -> None:
    """Every bridge/naive ratio was computed from two measured figures."""
    for key, value in report[0]["poller"]["ratio"].items():
        assert positive(value), key


def test_command_path_and_its_baseline_both_ran(report: tuple[dict[str, Any], str]) -> None:
    """At each concurrency the bridge and the raw responder served every command without failure."""
    commands = report[0]["commands"]
    assert set(commands) == {"1", "4"}
    for level, pair in commands.items():
        for name in ("bridge", "baseline"):
            run = pair[name]
            assert (run["count"], run["failures"]) == (COMMANDS, 0), (level, name)
            assert positive(run["commands_per_second"]), (level, name)
            assert positive(run["latency_ms"]["p50"]), (level, name)
            assert positive(run["latency_ms"]["p99"]), (level, name)
        for key, value in pair["ratio"].items():
            assert positive(value), (level, key)


def test_the_report_prints_header_tables_and_ratios(report: tuple[dict[str, Any], str]) -> None:
    """The printed output names the machine, both tables and both ratio rows."""
    figures, text = report
    assert f"{figures['machine']['cores']} cores" in text
    assert "Poller:" in text and "Command path:" in text
    assert "bridge / naive" in text and "bridge / baseline" in text


def test_percentiles_are_nearest_rank() -> None:
    """p50 of 1..10 is 5, p95 is 10; an empty sample gives NaN, not an error."""
    values = [float(v) for v in range(10, 0, -1)]
    assert (percentile(sorted(values), 50), percentile(sorted(values), 95)) == (5.0, 10.0)
    assert Stats.of(values).max == 10.0
    assert math.isnan(Stats.of([]).p50)


def test_api_timestamps_convert_to_sandbox_seconds() -> None:
    """The sandbox's ISO timestamps map back to seconds since its EPOCH."""
    assert api_seconds("2026-05-29T10:00:04.250Z") == pytest.approx(4.25)


def test_the_clock_slows_where_the_workload_would_saturate_the_process() -> None:
    """x10 for the defaults; slower for a large budget and for many jobs per window, never under
    real time (10,000 jobs at x2 measured the process's CPU, not the poll policy)."""
    assert auto_speed(120) == 10.0
    assert auto_speed(300) == 4.0
    assert auto_speed(600, jobs=10_000, window=120.0) == pytest.approx(1.0)
    assert auto_speed(120, jobs=2_000, window=120.0) == pytest.approx(5.0)


async def test_sandbox_time_budget_paces_per_sandbox_minute() -> None:
    """On a x600 clock a 3/min budget makes the 4th request wait one sandbox minute, not a wall one."""
    clock = SandboxClock(speed=600.0)
    budget = SandboxTimeBudget(3, clock)
    for _ in range(3):
        assert await budget.acquire() < 1.0  # sandbox seconds
    waited = await budget.acquire()
    # About 60 sandbox s; sleeping the delay as wall seconds would show ~36,000 here.
    assert 55.0 <= waited < 18_000.0


@pytest.mark.slow
def test_the_watch_bench_measures_every_figure_with_a_second_replica_taking_over() -> None:
    """`bench --watches` with a few hundred watches: every figure is measured and finite, every
    watch is held by the first replica and then, after its SIGKILL, by the second."""
    import asyncio

    from bridge.cli.bench.watches import WatchBenchParams, print_watch_bench, run_watch_bench

    params = WatchBenchParams(watches=300, idle_seconds=1.0, change_seconds=3.0, lease=3.0)
    figures = asyncio.run(run_watch_bench(params))
    w = figures["watches"]
    for name in ("rss_mb", "startup_seconds", "handover_seconds", "idle_cpu_percent"):
        assert positive(w[name]), (name, w[name])
    assert w["watches"] == 300 and w["projects"] == 3
    out = io.StringIO()
    print_watch_bench(Console(file=out, width=120), figures)
    assert "hand-over" in out.getvalue()


@pytest.mark.slow
def test_the_watch_churn_bench_measures_a_slope_and_retires_what_it_added() -> None:
    """`bench --watches --churn` over a few sandbox minutes: watches are added and finished, the
    replica holds about what the churn predicts (so records are retired), and the RSS slope is a
    measured figure (not judged here: too short a run for that)."""
    import asyncio

    from bridge.cli.bench.churn import ChurnParams, print_churn_bench, run_churn_bench

    params = ChurnParams(seconds=400.0, speed=20.0, lifetime=30.0, retain=60.0, warmup=0.5)
    figures = asyncio.run(run_churn_bench(params))
    c = figures["churn"]
    assert c["added"] >= 700 and c["finished"] > 0
    assert math.isfinite(c["rss_slope_mb_per_hour"]) and c["samples"] > 2
    assert c["records_end"] < c["added"] / 2  # finished records were deleted
    out = io.StringIO()
    print_churn_bench(Console(file=out, width=120), figures)
    assert "RSS slope" in out.getvalue()


@pytest.mark.slow
def test_the_handover_bench_onboards_by_bulk_and_by_discovery(tmp_path: Any) -> None:
    """`bench --handover` with a few jobs: both onboarding paths watch every job, every READY is
    detected, and each figure (onboarding cost, detection against the bound, idle stretch) is
    measured; none is judged."""
    import asyncio

    from bridge.cli.bench.handover import print_handover, run_handover
    from bridge.cli.bench.poll import PollParams

    params = PollParams(jobs=12, projects=2, rate=120, speed=50.0, window=10.0, lead=20.0)
    figures = asyncio.run(run_handover(params, tmp_path))
    for mode in ("bulk", "discovery"):
        f = figures[mode]
        assert f["onboarded"] == 12 and f["detected"] == 12, (mode, f)
        assert positive(f["onboarding_seconds"]) and positive(f["calls_per_watch"])
        assert positive(f["latency_seconds"]["p95"]) and positive(f["bound_seconds"]["p95"])
        assert math.isfinite(f["longest_idle_seconds"])
    out = io.StringIO()
    print_handover(Console(file=out, width=200), params, figures)
    assert "bulk" in out.getvalue() and "discovery" in out.getvalue()


def test_the_isolation_run_measures_a_failing_route_beside_its_baseline(
    report: tuple[dict[str, Any], str],
) -> None:
    """Healthy latency with and without a failing route, its probes, the release, one effect each."""
    iso = report[0]["isolation"]
    for phase in ("baseline_ms", "failing_ms"):
        assert all(positive(iso[phase][k]) for k in ("p50", "p99", "max")), phase
    assert positive(iso["failing_requests_per_minute"])
    assert positive(iso["release_seconds"])
    assert iso["effects"] == STUCK
    assert "Isolation" in report[1]
