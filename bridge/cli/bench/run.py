"""`storybridge bench`: measure the poller and the command path, each beside a baseline run now.

Nothing here asserts a speed: the bench prints figures and their ratios to baselines measured in
the same run on the same machine, and returns them as a dict (for tests and tooling).

1. Poller efficiency (`bridge.cli.bench.poll`): `jobs` watched jobs over `projects` projects under a
   budget of `rate` requests per API minute, the bridge's watch engine beside a naive poller
   (one GET per job every 5 s) with the same budget. Time is compressed by `speed`; the figures
   are in API (sandbox) seconds.
2. Command path (`bridge.cli.bench.commands`): `project.create` over request/reply at concurrency 1 and
   64, beside a raw nats-py responder doing one httpx call per request.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bridge.cli.bench.commands import RunResult, measure_commands
from bridge.cli.bench.common import machine_facts, ratio
from bridge.cli.bench.poll import PollParams, PollResult, measure_bridge, measure_naive

__all__ = ["run_bench"]


async def run_bench(
    console: Console,
    *,
    jobs: int = 1000,
    projects: int = 10,
    rate: int = 120,
    commands: int = 300,
    speed: float = 10.0,
    window: float = 120.0,
    lead: float = 60.0,
    concurrency: Sequence[int] = (1, 64),
) -> dict[str, Any]:
    """Run both benchmarks, print them, and return every figure (see the module docstring)."""
    poll = PollParams(
        jobs=jobs, projects=projects, rate=rate, speed=speed, window=window, lead=lead
    )
    facts = machine_facts()
    params = {
        "jobs": jobs,
        "projects": projects,
        "rate_per_minute": rate,
        "speed": speed,
        "window_seconds": window,
        "lead_seconds": lead,
        "naive_interval_seconds": poll.naive_interval,
        "commands": commands,
        "concurrency": list(concurrency),
    }
    _print_header(console, facts, params)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="storybridge-bench-") as tmp:
        workdir = Path(tmp)
        with console.status("poller: the bridge's watch engine..."):
            bridge = await measure_bridge(poll, workdir)
        with console.status("poller: the naive poller (one GET per job)..."):
            naive = await measure_naive(poll, workdir)
        poller = _poller_figures(bridge, naive)
        _print_poller(console, poll, bridge, naive, poller["ratio"])
        with console.status("command path: bridge and baseline..."):
            runs = await measure_commands(commands, concurrency, workdir)
        command_figures = _command_figures(runs)
        _print_commands(console, runs, command_figures)
    elapsed = time.perf_counter() - started
    console.print(f"[dim]bench finished in {elapsed:.1f} s wall time[/dim]")
    return {
        "machine": facts,
        "params": params,
        "poller": poller,
        "commands": command_figures,
        "wall_seconds": elapsed,
    }


# -- figures -------------------------------------------------------------------------------------


def _poller_figures(bridge: PollResult, naive: PollResult) -> dict[str, Any]:
    b, n = bridge.as_dict(), naive.as_dict()
    lat_b, lat_n = b["latency_seconds"], n["latency_seconds"]
    return {
        "bridge": b,
        "naive": n,
        "ratio": {  # bridge / naive: below 1 means the bridge needs less (calls) or is faster
            "calls_per_minute": ratio(b["calls_per_minute"], n["calls_per_minute"]),
            "calls_per_job": ratio(b["calls_per_job"], n["calls_per_job"]),
            "p50": ratio(lat_b["p50"], lat_n["p50"]),
            "p95": ratio(lat_b["p95"], lat_n["p95"]),
            "max": ratio(lat_b["max"], lat_n["max"]),
        },
    }


def _command_figures(runs: dict[int, dict[str, RunResult]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for level, pair in runs.items():
        b, base = pair["bridge"].as_dict(), pair["baseline"].as_dict()
        out[str(level)] = {
            "bridge": b,
            "baseline": base,
            "ratio": {  # bridge / baseline
                "commands_per_second": ratio(b["commands_per_second"], base["commands_per_second"]),
                "p50": ratio(b["latency_ms"]["p50"], base["latency_ms"]["p50"]),
                "p99": ratio(b["latency_ms"]["p99"], base["latency_ms"]["p99"]),
            },
        }
    return out


# -- printing ------------------------------------------------------------------------------------


def _num(value: float, digits: int = 1) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:,.{digits}f}"


def _x(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.2f}x"


def _print_header(console: Console, facts: dict[str, Any], params: dict[str, Any]) -> None:
    console.rule("[bold]storybridge bench")
    console.print(
        f"machine: {facts['cores']} cores ({facts['cpu']}), {facts['python']}, {facts['platform']}"
    )
    console.print(
        f"poller: {params['jobs']} jobs over {params['projects']} projects, budget "
        f"{params['rate_per_minute']} req/API-min, READY moments spread over "
        f"{params['window_seconds']:g} API s from t={params['lead_seconds']:g} s, "
        f"sandbox clock x{params['speed']:g}, naive interval {params['naive_interval_seconds']:g} s"
    )
    console.print(
        f"commands: {params['commands']} x project.create per run, concurrency "
        f"{', '.join(str(c) for c in params['concurrency'])}; sandbox, bridge, baseline and "
        "requester share this one Python process (nats-server apart)"
    )


def _print_poller(
    console: Console,
    params: PollParams,
    bridge: PollResult,
    naive: PollResult,
    ratios: dict[str, float],
) -> None:
    table = Table(
        title=f"Poller: {params.jobs} watched jobs, {params.rate} req/min budget (API seconds)"
    )
    for column in (
        "poller",
        "detected",
        "calls",
        "calls/min",
        "calls/job",
        "p50 s",
        "p95 s",
        "max s",
    ):
        table.add_column(column, justify="left" if column == "poller" else "right")
    for result in (bridge, naive):
        lat = result.latency
        table.add_row(
            result.poller,
            f"{result.detected}/{result.jobs}",
            str(result.calls),
            _num(result.calls_per_minute),
            _num(result.calls / result.jobs if result.jobs else math.nan, 2),
            _num(lat.p50),
            _num(lat.p95),
            _num(lat.max),
        )
    table.add_row(
        "bridge / naive",
        "",
        "",
        _x(ratios["calls_per_minute"]),
        _x(ratios["calls_per_job"]),
        _x(ratios["p50"]),
        _x(ratios["p95"]),
        _x(ratios["max"]),
        style="bold",
    )
    console.print(table)
    notes = []
    for result in (bridge, naive):
        if result.detected < result.jobs:
            notes.append(f"{result.poller}: {result.jobs - result.detected} jobs not seen READY")
        if result.rejected:
            notes.append(f"{result.poller}: {result.rejected} requests answered 429")
        if result.late_watches:
            notes.append(f"{result.poller}: {result.late_watches} watches began after READY")
    for note in notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    console.print(
        "[dim]latency = event observed - completedAt; calls from the sandbox request log over "
        "the window from the first watch to the last detection "
        f"(bridge {bridge.seconds:,.0f} s, naive {naive.seconds:,.0f} s)[/dim]"
    )


def _print_commands(
    console: Console, runs: dict[int, dict[str, RunResult]], figures: dict[str, Any]
) -> None:
    table = Table(title="Command path: project.create over request/reply (wall time)")
    for column in ("concurrency", "path", "commands/s", "p50 ms", "p99 ms", "failures"):
        table.add_column(column, justify="left" if column == "path" else "right")
    for level, pair in runs.items():
        for name in ("bridge", "baseline"):
            run = pair[name]
            table.add_row(
                str(level),
                name,
                _num(run.per_second),
                _num(run.latency.p50 * 1000, 2),
                _num(run.latency.p99 * 1000, 2),
                str(run.failures),
            )
        r = figures[str(level)]["ratio"]
        table.add_row(
            str(level),
            "bridge / baseline",
            _x(r["commands_per_second"]),
            _x(r["p50"]),
            _x(r["p99"]),
            "",
            style="bold",
            end_section=True,
        )
    console.print(table)
