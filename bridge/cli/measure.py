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
    isolation_stuck: int = typer.Option(
        1000,
        help="Durable commands stuck behind the failing route in the isolation run (0: skip it).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object, nothing else."),
) -> None:
    """Measure the poller and the command path against the sandbox; print ratios to baselines."""
    from bridge.ops.logging import configure_logging

    configure_logging("console", level="WARNING")  # the tables are the output
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
