"""`storybridge status`: the fleet from NATS alone (the `admin.status` request), for a person or,
with `--json`, for a script (the document is `schemas.wire.status.FleetStatus`, CONTRACT.md)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import typer
from rich.console import Console, Group
from rich.table import Table

from bridge.cli.options import NatsUrl, SubjectPrefix
from bridge.names import Subjects

console = Console()
err_console = Console(stderr=True)


def status(
    as_json: bool = typer.Option(False, "--json", help="Print the status document as JSON."),
    nats_url: NatsUrl = None,
    subject_prefix: SubjectPrefix = "story",
    timeout: float = typer.Option(10.0, help="Seconds to wait for a replica to answer."),
) -> None:
    """The fleet: replicas and shards, watches, circuits, commands, dead letters, credits, poll
    budgets, event delay. Any replica answers for all of them, from NATS."""
    from bridge.cli.options import client_connect_options, nats_servers
    from bridge.cli.send import request

    try:
        outcome = asyncio.run(
            request(
                nats_servers(nats_url),
                Subjects(subject_prefix),
                "admin.status",
                b"{}",
                timeout=timeout,
                connect=client_connect_options(),
            )
        )
    except Exception as err:  # no bridge answering, NATS unreachable: one line, not a traceback
        err_console.print(f"[red]no status:[/red] {type(err).__name__}: {err}")
        raise typer.Exit(1) from None
    if not outcome.get("ok"):
        err_console.print(f"[red]admin.status failed:[/red] {json.dumps(outcome.get('error'))}")
        raise typer.Exit(1)
    doc: dict[str, Any] = outcome["result"]
    if as_json:
        typer.echo(json.dumps(doc, indent=2, sort_keys=True))
        return
    console.print(render(doc))


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.1f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def shard_ranges(shards: list[int]) -> str:
    """`[0, 1, 2, 5, 7, 8]` -> `0-2,5,7-8`: 32 shards stay one short cell."""
    parts: list[str] = []
    for shard in sorted(shards):
        if parts and "-" in parts[-1] and int(parts[-1].split("-")[1]) == shard - 1:
            parts[-1] = f"{parts[-1].split('-')[0]}-{shard}"
        elif parts and "-" not in parts[-1] and int(parts[-1]) == shard - 1:
            parts[-1] = f"{parts[-1]}-{shard}"
        else:
            parts.append(str(shard))
    return ",".join(parts)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left", expand=False)
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right")
    return table


def render(doc: dict[str, Any]) -> Group:
    """The status document as rich tables, one per concern, in the order an operator asks."""
    shards = doc["shards"]
    replicas = _table(
        f"Replicas, {shards['owned']}/{shards['total']} shards owned",
        "replica",
        "alive",
        "heartbeat",
        "shards",
    )
    for r in doc["replicas"]:
        alive = "[green]yes[/green]" if r["alive"] else "[red]no[/red]"
        held = f"{len(r['shards'])}: {shard_ranges(r['shards'])}" if r["shards"] else "-"
        replicas.add_row(r["id"], alive, _age(r["heartbeatAgeSeconds"]), held)
    unowned = shards["unowned"]
    if unowned:
        held = f"{len(unowned)}: {shard_ranges(unowned)}"
        replicas.add_row("[red]unowned[/red]", "", "", f"[red]{held}[/red]")

    watches = _table("Watches (shards owned)", "provider/resource", "state", "count")
    for w in doc["watches"]:
        colour = {"stalled": "yellow", "done": "dim"}.get(w["state"], "green")
        watches.add_row(
            f"{w['provider']}/{w['resource']}",
            f"[{colour}]{w['state']}[/{colour}]",
            str(w["count"]),
        )

    if not doc["watches"]:
        watches.add_row("[dim]none[/dim]", "", "")

    errors: dict[str, str] = doc.get("errors") or {}

    def unread(table: Table, section: str) -> None:
        # A section the answering replica could not read: said so, never shown as empty.
        table.add_row(f"[red]not read: {errors.get(section, 'unknown')}[/red]")

    circuits = _table("Circuits", "provider", "state", "code", "since")
    if doc["circuits"] is None:
        unread(circuits, "circuits")
    for c in doc["circuits"] or []:
        state = "[red]open[/red]" if c["open"] else "[green]closed[/green]"
        circuits.add_row(c["provider"], state, c["code"] or "-", c["since"] or "-")

    cmd = doc["commands"]
    commands = _table("Commands", "pending", "ack pending", "parked", "oldest unsettled")
    if cmd is None:
        unread(commands, "commands")
    else:
        commands.add_row(
            str(cmd["pending"]),
            str(cmd["ackPending"]),
            ("[yellow]" if cmd["parked"] else "") + str(cmd["parked"]),
            _age(cmd["oldestAgeSeconds"]),
        )

    dl = doc["deadLetters"]
    dead = _table("Dead letters", "count", "oldest", "by reason", "by command")
    if dl is None:
        unread(dead, "deadLetters")
    else:
        reasons = ", ".join(f"{k} {v}" for k, v in dl["byReason"].items()) or "-"
        if dl["sampled"] < dl["count"]:
            reasons += f" (of the first {dl['sampled']})"
        dead.add_row(
            ("[red]" if dl["count"] else "") + str(dl["count"]),
            _age(dl["oldestAgeSeconds"]),
            reasons,
            ", ".join(f"{k} {v}" for k, v in dl["byCommand"].items()) or "-",
        )

    money = _table("Credits and poll budget", "provider", "credits", "low below", "polls/min")
    budgets = {b["provider"]: b for b in doc["pollBudget"]}
    for c in doc["credits"]:
        b = budgets.get(c["provider"])
        use = f"{b['usedPerMinute']} / {b['limitPerMinute']:g}" if b else "-"
        money.add_row(c["provider"], _num(c["balance"]), _num(c["lowThreshold"]), use)

    d = doc["eventDelay"]
    delay = _table(f"Event delay, last {d['windowSeconds']:g}s", "scope", "events", "p50", "p95")
    delay.add_row(doc["answeredBy"], str(d["count"]), _num(d["p50"]), _num(d["p95"]))
    delay.add_row("fleet", str(d["fleetCount"]), _num(d["fleetP50"]), _num(d["fleetP95"]))
    shown: list[Table] = [replicas, watches, circuits, commands, dead, money, delay]
    if errors:
        failed = _table("Not read (the rest is current)", "section", "error")
        for section, error in sorted(errors.items()):
            failed.add_row(f"[red]{section}[/red]", error)
        shown.insert(0, failed)
    return Group(*shown)
