"""`storybridge bench`: measure the poller and the command path, each beside a baseline run now.

Nothing here asserts a speed: the bench prints figures and their ratios to baselines measured in
the same run on the same machine, and returns them as a dict (for tests and tooling).

1. Poller efficiency (`bridge.cli.bench.poll`): `jobs` watched jobs over `projects` projects under a
   budget of `rate` requests per API minute, the bridge's watch engine beside a naive poller
   (one GET per job every 5 s) with the same budget. Time is compressed by `speed`; the figures
   are in API (sandbox) seconds.
2. Command path (`bridge.cli.bench.commands`): `project.create` over request/reply at concurrency 1 and
   64, beside a raw nats-py responder doing one httpx call per request.
3. Isolation (`bridge.cli.bench.isolation`): durable commands on a healthy route while another
   route answers 503 under `isolation_stuck` durable commands, beside the same run's healthy
   baseline; then how long the stuck commands take to run once the route recovers.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bridge.cli.bench.commands import RunResult, measure_commands
from bridge.cli.bench.common import machine_facts, ratio
from bridge.cli.bench.isolation import measure_isolation
from bridge.cli.bench.poll import PollParams, PollResult, measure_bridge, measure_naive

__all__ = ["run_bench"]


# Jobs turning READY per wall second that this 2-core machine carries with the sandbox, the bridge
# and the bench in one process (the defaults: 1,000 jobs over 120 s at x10). Past it the process
# is CPU-bound and its own queueing, not the poll policy, shows up as detection latency (measured:
# 10,000 jobs at x2 reached 0.46-0.77 of the bound, at x1 1.00).
READY_PER_WALL_SECOND = 1000 * 10.0 / 120.0  # 83 a second


def auto_speed(rate: int, jobs: int = 1000, window: float = 120.0) -> float:
    """The sandbox clock for the bridge's runs: x10, slower where the budget is large (so the
    wall-clock request rate, rate x speed / 60, stays near what two shared cores serve) or where
    the jobs would turn READY faster than READY_PER_WALL_SECOND; never slower than real time."""
    by_rate = 1200.0 / rate
    by_jobs = READY_PER_WALL_SECOND * window / max(1, jobs)
    return max(1.0, min(10.0, by_rate, by_jobs))


async def run_bench(
    console: Console,
    *,
    jobs: int = 1000,
    projects: int = 10,
    rate: int = 120,
    commands: int = 300,
    speed: float | None = None,
    window: float = 120.0,
    lead: float = 60.0,
    concurrency: Sequence[int] = (1, 64),
    repeat: int = 3,
    mixed_per_minute: float | None = None,
    share: float = 0.8,
    isolation_stuck: int = 1000,
    isolation_healthy: int = 30,
) -> dict[str, Any]:
    """Run every benchmark `repeat` times, print the medians with their spread, and return
    every figure (medians at the top, `spread` as [min, max], each run under `runs`)."""
    speed = speed or auto_speed(rate, jobs, window)
    mixed = rate / 10 if mixed_per_minute is None else mixed_per_minute
    poll = PollParams(
        jobs=jobs,
        projects=projects,
        rate=rate,
        speed=speed,
        window=window,
        lead=lead,
        share=share,
    )
    facts = machine_facts()
    params = {
        "jobs": jobs,
        "projects": projects,
        "rate_per_minute": rate,
        "poll_budget_share": share,
        "speed": speed,
        "window_seconds": window,
        "lead_seconds": lead,
        "naive_interval_seconds": poll.naive_interval,
        "naive_speed": poll.naive_speed,
        "mixed_commands_per_minute": mixed,
        "commands": commands,
        "concurrency": list(concurrency),
        "repeat": repeat,
        "isolation_stuck": isolation_stuck,
        "isolation_healthy": isolation_healthy,
    }
    _print_header(console, facts, params)
    started = time.perf_counter()
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="storybridge-bench-") as tmp:
        workdir = Path(tmp)
        for number in range(1, max(1, repeat) + 1):
            run_dir = workdir / f"run-{number}"
            run_dir.mkdir()
            of = f"run {number}/{repeat}"
            with console.status(f"{of} poller: the bridge's watch engine..."):
                bridge = await measure_bridge(poll, run_dir)
            if mixed > 0:
                with console.status(f"{of} poller: the bridge, commands arriving meanwhile..."):
                    params_mixed = dataclasses.replace(poll, commands_per_minute=mixed)
                    mixed_run = await measure_bridge(params_mixed, run_dir, poller="mixed")
            with console.status(f"{of} poller: the naive poller (one GET per job)..."):
                naive = await measure_naive(poll, run_dir)
            with console.status(f"{of} command path: bridge and baseline..."):
                cmd_runs = await measure_commands(commands, concurrency, run_dir)
            one = {
                "poller": _poller_figures(bridge, naive),
                "commands": _command_figures(cmd_runs),
            }
            if mixed > 0:
                one["poller"]["mixed"] = mixed_run.as_dict()
            if isolation_stuck > 0:
                with console.status(f"{of} isolation: a route failing under stuck commands..."):
                    iso = await measure_isolation(isolation_stuck, isolation_healthy, run_dir)
                one["isolation"] = iso.as_dict()
            runs.append(one)
    figures = combine(runs)
    spread = spread_of(runs)
    _print_poller(console, poll, figures["poller"], spread["poller"])
    _print_commands(console, figures["commands"], spread["commands"], concurrency)
    if "isolation" in figures:
        _print_isolation(console, figures["isolation"], spread["isolation"])
    elapsed = time.perf_counter() - started
    console.print(f"[dim]bench finished in {elapsed:.1f} s wall time[/dim]")
    return {
        "machine": facts,
        "params": params,
        **figures,
        "spread": spread,
        "runs": runs,
        "wall_seconds": elapsed,
    }


# -- figures -------------------------------------------------------------------------------------


def combine(runs: Sequence[Any]) -> Any:
    """The median of every number across runs (dicts walked key by key); the rest from run 1."""
    first = runs[0]
    if isinstance(first, dict):
        return {k: combine([r[k] for r in runs if isinstance(r, dict) and k in r]) for k in first}
    if isinstance(first, int | float) and not isinstance(first, bool):
        values = [float(v) for v in runs if isinstance(v, int | float) and math.isfinite(v)]
        if not values:
            return math.nan
        middle = statistics.median(values)
        return int(middle) if isinstance(first, int) and middle == int(middle) else middle
    return first


def spread_of(runs: Sequence[Any]) -> Any:
    """[min, max] of every number across runs, in the same shape as `combine`."""
    first = runs[0]
    if isinstance(first, dict):
        out = {k: spread_of([r[k] for r in runs if isinstance(r, dict) and k in r]) for k in first}
        return {k: v for k, v in out.items() if v is not None}
    if isinstance(first, int | float) and not isinstance(first, bool):
        values = [float(v) for v in runs if isinstance(v, int | float) and math.isfinite(v)]
        return [min(values), max(values)] if values else [math.nan, math.nan]
    return None


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
        f"{params['rate_per_minute']} req/API-min (polls: {params['poll_budget_share']:g} of it), "
        f"READY moments spread over {params['window_seconds']:g} API s from "
        f"t={params['lead_seconds']:g} s, sandbox clock x{params['speed']:g} (naive "
        f"x{params['naive_speed']:g}, interval {params['naive_interval_seconds']:g} s); mixed: "
        f"{params['mixed_commands_per_minute']:g} project.create per API minute meanwhile"
    )
    console.print(
        f"commands: {params['commands']} x project.create per run, concurrency "
        f"{', '.join(str(c) for c in params['concurrency'])}; sandbox, bridge, baseline and "
        "requester share this one Python process (nats-server apart)"
    )
    console.print(f"each figure: the median of {params['repeat']} runs, (min-max) beside it")


def _spread(value: float, pair: Any, digits: int = 1) -> str:
    text = _num(value, digits)
    if isinstance(pair, list) and len(pair) == 2 and pair[0] != pair[1]:
        text += f" ({_num(pair[0], digits)}-{_num(pair[1], digits)})"
    return text


def _print_poller(
    console: Console, params: PollParams, figures: dict[str, Any], spread: dict[str, Any]
) -> None:
    table = Table(
        title=f"Poller: {params.jobs} watched jobs, {params.rate} req/min budget (API seconds)"
    )
    columns = (
        "poller",
        "detected",
        "calls/min",
        "max in 60 s",
        "p50 s",
        "p95 s",
        "max s",
        "bound p95 s",
        "efficiency",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "poller" else "right")
    names = [n for n in ("bridge", "mixed", "naive") if n in figures]
    for name in names:
        f, sp = figures[name], spread.get(name, {})
        lat, lsp = f["latency_seconds"], sp.get("latency_seconds", {})
        table.add_row(
            "bridge + commands" if name == "mixed" else name,
            f"{f['detected']}/{f['jobs']}",
            _num(f["calls_per_minute"]),
            str(f["max_calls_in_60s"]),
            _spread(lat["p50"], lsp.get("p50")),
            _spread(lat["p95"], lsp.get("p95")),
            _num(lat["max"]),
            _num(f["bound_seconds"]["p95"]),
            _spread(f["efficiency_p95"], sp.get("efficiency_p95"), 2),
        )
    r = figures["ratio"]
    table.add_row(
        "bridge / naive",
        "",
        _x(r["calls_per_minute"]),
        "",
        _x(r["p50"]),
        _x(r["p95"]),
        _x(r["max"]),
        "",
        "",
        style="bold",
    )
    console.print(table)
    for name in names:
        f = figures[name]
        if f["detected"] < f["jobs"]:
            console.print(
                f"[yellow]note:[/yellow] {name}: {f['jobs'] - f['detected']} not seen READY"
            )
        if f["rejected_429"]:
            console.print(f"[yellow]note:[/yellow] {name}: {f['rejected_429']} answered 429")
        if f["max_calls_in_60s"] > params.rate:
            console.print(f"[yellow]note:[/yellow] {name}: above the budget in a 60 s window")
    wait = figures.get("mixed", {}).get("command_wait_seconds")
    if wait:
        console.print(
            f"mixed: {wait['count']} commands waited for the budget p50 {_num(wait['p50'], 3)} s, "
            f"p99 {_num(wait['p99'], 3)} s, max {_num(wait['max'], 3)} s (API seconds)"
        )
    b = figures["bridge"]["bound_seconds"]
    console.print(
        f"[dim]bound: one sweep is {b['sweep_calls']:g} list calls (100 jobs each) at "
        f"{b['poll_budget_per_second']:.2f} poll calls/s = every job read each "
        f"{b['period']:.2f} s (never under 5 s), a READY waits 0.95 of that at p95; "
        "efficiency = bound p95 / measured p95 (1.00 = the bound). The naive bound is one GET "
        "per job at its share. Latency = event observed - completedAt.[/dim]"
    )


def _print_commands(
    console: Console, figures: dict[str, Any], spread: dict[str, Any], levels: Sequence[int]
) -> None:
    table = Table(title="Command path: project.create over request/reply (wall time)")
    for column in ("concurrency", "path", "commands/s", "p50 ms", "p99 ms", "failures"):
        table.add_column(column, justify="left" if column == "path" else "right")
    for level in levels:
        pair, sp = figures[str(level)], spread.get(str(level), {})
        for name in ("bridge", "baseline"):
            run, rsp = pair[name], sp.get(name, {})
            table.add_row(
                str(level),
                name,
                _spread(run["commands_per_second"], rsp.get("commands_per_second")),
                _num(run["latency_ms"]["p50"], 2),
                _spread(run["latency_ms"]["p99"], rsp.get("latency_ms", {}).get("p99"), 2),
                str(run["failures"]),
            )
        r = pair["ratio"]
        added = pair["bridge"]["latency_ms"]["p99"] - pair["baseline"]["latency_ms"]["p99"]
        table.add_row(
            str(level),
            "bridge / baseline",
            _x(r["commands_per_second"]),
            _x(r["p50"]),
            f"{_x(r['p99'])} ({added:+.2f} ms)",
            "",
            style="bold",
            end_section=True,
        )
    console.print(table)


def _print_isolation(console: Console, figures: dict[str, Any], spread: dict[str, Any]) -> None:
    table = Table(
        title=f"Isolation: durable credits.get while POST /story-projects answers 503 under "
        f"{figures['stuck']} durable project.create (wall time)"
    )
    for column in ("phase", "p50 ms", "p99 ms", "max ms"):
        table.add_column(column, justify="left" if column == "phase" else "right")
    for name, label in (("baseline_ms", "healthy baseline"), ("failing_ms", "one route failing")):
        f, sp = figures[name], spread.get(name, {})
        table.add_row(
            label,
            _spread(f["p50"], sp.get("p50")),
            _spread(f["p99"], sp.get("p99")),
            _num(f["max"]),
        )
    base, failing = figures["baseline_ms"], figures["failing_ms"]
    table.add_row(
        "failing / baseline",
        _x(ratio(failing["p50"], base["p50"])),
        _x(ratio(failing["p99"], base["p99"])),
        "",
        style="bold",
    )
    console.print(table)
    console.print(
        f"the failing route cost {_num(figures['failing_requests_per_minute'])} requests/min "
        f"while it failed (probes); after it recovered, all {figures['stuck']} stuck commands "
        f"ran in {_num(figures['release_seconds'])} s with {figures['effects']} effects"
    )
