"""`storybridge providers`: the providers installed (entry point group `storybridge.providers`), where
each comes from, and whether `storybridge run` would start it with this environment, or why not."""

from __future__ import annotations

import json
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from bridge import plugins
from bridge.config import BridgeSettings

console = Console()


def _state(provider: plugins.Provider, settings: BridgeSettings) -> tuple[bool, str | None]:
    try:
        reason = provider.disabled_reason(settings)
    except SystemExit as refused:  # a contradiction `run` would stop on: shown, not raised
        return False, str(refused.code)
    except ValidationError as err:  # its own settings hold a bad value: shown, not raised
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in err.errors()
        )
        return False, f"invalid settings: {problems}"
    return reason is None, reason


def describe(settings: BridgeSettings) -> list[dict[str, Any]]:
    """One row per installed provider, by name."""
    rows = []
    for item in plugins.installed():
        enabled, reason = _state(item.provider, settings)
        rows.append(
            {
                "name": item.name,
                "distribution": item.distribution,
                "entryPoint": item.entry_point,
                "enabled": enabled,
                "reason": reason,
                "required": item.provider.required,
                "commands": len(item.provider.commands),
                "watches": sorted(t.resources) if (t := item.provider.watch_targets) else [],
            }
        )
    for broken in plugins.failed():
        rows.append(
            {
                "name": broken.name,
                "distribution": broken.distribution,
                "entryPoint": broken.entry_point,
                "enabled": False,
                "reason": broken.reason,
                "required": False,
                "commands": 0,
                "watches": [],
            }
        )
    return rows


def providers(
    as_json: bool = typer.Option(False, "--json", help="Print the list as JSON."),
    sandbox: bool = typer.Option(
        False,
        "--sandbox",
        help="As `storybridge run --sandbox` would decide (the environment else).",
    ),
) -> None:
    """The installed providers and whether `storybridge run` would start each (and why not)."""
    overrides: dict[str, Any] = {"sandbox": True} if sandbox else {}
    rows = describe(BridgeSettings(**overrides))
    if as_json:
        typer.echo(json.dumps({"providers": rows}, indent=2))
        return
    table = Table(title="storybridge providers")
    for column in ("provider", "from", "enabled", "commands", "watches"):
        table.add_column(column)
    for row in rows:
        state = "[green]yes[/]" if row["enabled"] else f"[yellow]no[/]: {row['reason']}"
        table.add_row(
            row["name"],
            f"{row['distribution']} ({row['entryPoint']})",
            state,
            str(row["commands"]),
            ", ".join(row["watches"]),
        )
    console.print(table)


def declared(verb: str, member: str, name: str) -> Any:
    """What the installed provider `name` declares as `member` (`sandbox_alone`, `demo`), for
    `storybridge <verb> --provider <name>`; else one line saying why not, and exit 2."""
    err = Console(stderr=True)
    try:
        having = {
            item.name: found
            for item in plugins.installed()
            if (found := getattr(item.provider, member, None)) is not None
        }
        broken = {item.name: item.reason for item in plugins.failed()}
    except plugins.ProviderError as refused:  # two providers claim one name or command
        err.print(f"storybridge {verb}: {refused}", markup=False)
        raise typer.Exit(2) from None
    if name in having:
        return having[name]
    if name in broken:
        said = f"provider {name!r} is installed but {broken[name]}"
    elif not having:
        said = f"no installed provider declares one (looked for {member!r})"
    else:
        said = f"--provider is one of {', '.join(having)}, not {name!r}"
    err.print(f"storybridge {verb}: {said}", markup=False)
    raise typer.Exit(2)
