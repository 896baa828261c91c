"""`storybridge bench`: the poller, the command path and the watch engine against baselines."""

from __future__ import annotations

import asyncio
import json

import typer
from rich.console import Console

from bridge.config import BridgeSettings

console = Console()


def bench(
    jobs: int = typer.Option(1000, help="Watched jobs for the poller benchmark."),
    projects: int = typer.Option(10, help="Projects the jobs are spread over."),
    rate: int = typer.Option(120, help="API budget, requests per minute."),
    commands: int = typer.Option(300, help="Commands per concurrency level."),
    speed: float | None = typer.Option(
        None,
        help="Sandbox clock speed (poller figures stay in API time); default x10, slower for "
        "budgets over 120/min or more than 83 jobs turning READY per wall second.",
    ),
    repeat: int = typer.Option(3, help="Runs of everything; each figure is their median."),
    mixed: float | None = typer.Option(
        None,
        help="Commands per API minute in the mixed run (default: a tenth of --rate; 0: none).",
    ),
    window: float = typer.Option(120.0, help="API seconds over which the jobs become READY."),
    watches: int | None = typer.Option(
        None,
        help="Instead: hold this many watches (the target is 100000) and report the engine's "
        "RSS, idle and changing CPU, start-up and hand-over times.",
    ),
    idle: float = typer.Option(30.0, help="With --watches: seconds of the idle phase."),
    change: float = typer.Option(60.0, help="With --watches: seconds of the 1 %/min phase."),
    churn: float | None = typer.Option(
        None,
        help="With --watches: instead, this many sandbox seconds of watches added, finished and "
        "retired continuously (at --speed, default 20x), reporting the replica's RSS slope.",
    ),
    handover: bool = typer.Option(
        False,
        "--handover",
        help="Instead: hand the bridge --jobs jobs already in flight, by bulk watch.add and by "
        "discovery, and report onboarding cost and detection against the bound.",
    ),
    isolation_stuck: int = typer.Option(
        1000,
        help="Durable commands stuck behind the failing route in the isolation run (0: skip it).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object, nothing else."),
) -> None:
    """Measure the poller and the command path against the sandbox; print ratios to baselines."""
    from bridge.ops.logging import configure_logging

    configure_logging("console", level="WARNING")  # the tables are the output
    if handover:
        import tempfile
        from pathlib import Path

        from bridge.cli.bench.handover import print_handover, run_handover
        from bridge.cli.bench.poll import PollParams
        from bridge.cli.bench.run import auto_speed

        poll = PollParams(
            jobs=jobs,
            projects=projects,
            rate=rate,
            window=window,
            speed=speed or auto_speed(rate, jobs, window),
            share=BridgeSettings().poll_budget_share,
        )
        with tempfile.TemporaryDirectory(prefix="storybridge-handover-") as tmp:
            figures = asyncio.run(run_handover(poll, Path(tmp)))
        if as_json:
            typer.echo(json.dumps(figures, default=str))
        else:
            print_handover(console, poll, figures)
        return
    if watches is not None and churn is not None:
        from bridge.cli.bench.churn import ChurnParams, print_churn_bench, run_churn_bench

        churned = asyncio.run(run_churn_bench(ChurnParams(seconds=churn, speed=speed or 20.0)))
        if as_json:
            typer.echo(json.dumps(churned))
        else:
            print_churn_bench(console, churned)
        return
    if watches is not None:
        from bridge.cli.bench.watches import WatchBenchParams, print_watch_bench, run_watch_bench

        params = WatchBenchParams(
            watches=watches, rate=rate, idle_seconds=idle, change_seconds=change
        )
        figures = asyncio.run(run_watch_bench(params))
        if as_json:
            typer.echo(json.dumps(figures))
        else:
            print_watch_bench(console, figures)
        return
    from bridge.cli.bench.run import run_bench

    quiet = Console(quiet=True) if as_json else console
    result = asyncio.run(
        run_bench(
            quiet,
            jobs=jobs,
            projects=projects,
            rate=rate,
            commands=commands,
            speed=speed,
            window=window,
            repeat=repeat,
            mixed_per_minute=mixed,
            share=BridgeSettings().poll_budget_share,
            isolation_stuck=isolation_stuck,
        )
    )
    if as_json:
        typer.echo(json.dumps(result, default=str))
