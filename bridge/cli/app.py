"""The `storybridge` command line: run, sandbox, send, redrive, tail, status, providers, demo, bench,
asyncapi."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import typer
from rich.console import Console
from rich.json import JSON

from bridge import plugins
from bridge.cli import contract, measure, providers, status
from bridge.cli.options import NatsUrl, SubjectPrefix, client_connect_options, nats_servers
from bridge.cli.settings_options import settings_from, with_options
from bridge.config import BridgeSettings
from bridge.plugins import own_settings

app = typer.Typer(
    name="storybridge",
    help="Event bridge between NATS and the Sleeper Hit Studio Story API: commands in, CloudEvents out.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals could hold the API key
)
console = Console()
err_console = Console(stderr=True)


@app.command()
@with_options(BridgeSettings)
def run(**given: Any) -> None:
    """Run the bridge. With no NATS URL it starts an embedded nats-server; --sandbox needs no key."""
    import structlog
    from pydantic import ValidationError

    from bridge.nats.connection import NatsRefused
    from bridge.nats.streams import ReplicasUnavailable
    from bridge.ops.logging import configure_logging
    from bridge.service import serve

    try:
        settings: BridgeSettings = settings_from(BridgeSettings, given)
        for item in plugins.installed():  # each provider's own settings, checked before a start
            own_settings(item.provider, settings)
    except ValidationError as err:
        # A setting to fix: which one and why, without a traceback.
        owner = "" if err.title == BridgeSettings.__name__ else f"{err.title}."
        for problem in err.errors():
            where = ".".join(str(part) for part in problem["loc"]) or "settings"
            err_console.print(f"storybridge run: {owner}{where}: {problem['msg']}")
        raise typer.Exit(2) from None
    configure_logging(settings.log_format)
    try:
        asyncio.run(serve(settings))
    except (NatsRefused, ReplicasUnavailable) as err:
        # A setting to fix, not a crash: one line that says which, and no traceback.
        structlog.get_logger(__name__).error("cannot start", reason=str(err))
        raise typer.Exit(2) from None


@app.command()
def sandbox(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    speed: float = typer.Option(1.0, help="Clock speed: 10 = state machines run 10x faster."),
    rate_limit: int | None = typer.Option(
        None, help="Requests per minute per key before 429 (default: the API's own)."
    ),
    credits: int | None = typer.Option(
        None, help="Starting credit balance (default: the sandbox's own, 1000)."
    ),
    seed: int | None = typer.Option(
        None, help="Seed for ids and injected faults, so runs repeat (default 0)."
    ),
    faults: str | None = typer.Option(
        None, help="JSON list of fault rules (see bridge/sandboxes/kit/faults.py)."
    ),
    scopes: str | None = typer.Option(
        None,
        help="Comma-separated scopes that any well-formed key gets (default: every scope).",
    ),
    key: list[str] = typer.Option(
        [],
        "--key",
        help="Accept KEY, or KEY=scope,scope with only those scopes (repeatable). With --key, "
        "other keys are refused unless --accept-any-key.",
    ),
    accept_any_key: bool | None = typer.Option(
        None,
        "--accept-any-key/--only-listed-keys",
        help="Whether any well-formed key authenticates (default: yes unless --key is given).",
    ),
    provider: str = typer.Option(
        "story",
        "--provider",
        help="Whose sandbox: an installed provider that has one (storybridge providers); story "
        "serves at /api/v1, syllaby at /v2 (--key is a token).",
    ),
) -> None:
    """Serve one provider's sandbox alone: the Story API's at http://HOST:PORT/api/v1 (default),
    or another installed provider's (Syllaby's at http://HOST:PORT/v2)."""
    sandbox_alone = providers.declared("sandbox", "sandbox_alone", provider)
    try:
        rules = json.loads(faults) if faults else []
        if not isinstance(rules, list):
            raise ValueError("--faults is a JSON list of fault rules")
        options = plugins.SandboxOptions(
            host=host,
            port=port,
            speed=speed,
            rate_limit=rate_limit,
            credits=credits,
            seed=seed,
            faults=rules,
            scopes=scopes,
            keys=tuple(key),
            accept_any_key=accept_any_key,
        )
        alone = sandbox_alone(options)
    except ValueError as err:  # pydantic's ValidationError and json's errors are ValueErrors
        err_console.print(f"storybridge sandbox: {err}", markup=False)
        raise typer.Exit(2) from None
    console.print(alone.banner)
    alone.serve()


@app.command()
def send(
    command: str = typer.Argument(..., help="<resource>.<action>, e.g. project.create"),
    payload: str = typer.Argument("{}", help="The command as a JSON object."),
    durable: bool = typer.Option(
        False, "--durable", help="Publish to the commands stream instead."
    ),
    command_id: str | None = typer.Option(
        None, help="commandId (default: from the payload, else new)."
    ),
    nats_url: NatsUrl = None,
    subject_prefix: SubjectPrefix = "story",
    timeout: float = typer.Option(90.0, help="Seconds to wait for the outcome."),
) -> None:
    """Send one command and print its outcome; exits 1 when the outcome is ok:false."""
    from bridge.cli.send import ensure_command_id, publish_durable, request
    from bridge.names import Subjects

    try:
        body = json.loads(payload)
    except json.JSONDecodeError as exc:
        err_console.print(f"[red]payload is not JSON:[/red] {exc}")
        raise typer.Exit(2) from None
    subjects = Subjects(subject_prefix)
    servers = nats_servers(nats_url)
    if durable:
        if not isinstance(body, dict):
            err_console.print("[red]payload must be a JSON object[/red]")
            raise typer.Exit(2)
        cid = ensure_command_id(body, command_id)
        outcome = asyncio.run(
            publish_durable(
                servers,
                subjects,
                command,
                json.dumps(body).encode(),
                command_id=cid,
                timeout=timeout,
                connect=client_connect_options(),
            )
        )
    else:
        if isinstance(body, dict) and command_id:
            body["commandId"] = command_id
        outcome = asyncio.run(
            request(
                servers,
                subjects,
                command,
                json.dumps(body).encode(),
                timeout=timeout,
                connect=client_connect_options(),
            )
        )
    style = "green" if outcome.get("ok") else "red"
    console.rule(f"[{style}]{command}: {'ok' if outcome.get('ok') else 'failed'}")
    console.print(JSON.from_data(outcome))
    if not outcome.get("ok"):
        raise typer.Exit(1)


@app.command()
def redrive(
    command: str | None = typer.Option(
        None, "--command", help="Only dead letters of this command, e.g. plan.approve."
    ),
    since: str | None = typer.Option(
        None, help="Only those dead-lettered since: an ISO 8601 time or a duration (30m, 2h, 7d)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count what would be redriven."),
    nats_url: NatsUrl = None,
    subject_prefix: SubjectPrefix = "story",
) -> None:
    """Put dead letters back on their command subjects with their original commandId."""
    from rich.table import Table

    from bridge.cli.redrive import redrive as run_redrive
    from schemas.wire.commands import parse_since

    try:
        after = parse_since(since) if since else None
    except ValueError as exc:
        err_console.print(f"[red]--since:[/red] {exc}")
        raise typer.Exit(2) from None
    report = asyncio.run(
        run_redrive(
            nats_servers(nats_url), subject_prefix, command=command, since=after, dry_run=dry_run
        )
    )
    verb = "would redrive" if dry_run else "redrove"
    table = Table(title=f"{verb} {report.matched if dry_run else report.redriven} dead letter(s)")
    table.add_column("command")
    table.add_column("count", justify="right")
    for name, count in sorted(report.commands.items()):
        table.add_row(name, str(count))
    console.print(table)


@app.command()
def tail(
    pattern: str | None = typer.Argument(None, help="Subject pattern (default: {prefix}.evt.>)."),
    nats_url: NatsUrl = None,
    subject_prefix: SubjectPrefix = "story",
    limit: int | None = typer.Option(None, help="Stop after this many events."),
    since: str | None = typer.Option(
        None, help="First replay the events stream from this long ago (90s, 15m, 2h, 7d)."
    ),
) -> None:
    """Print events live, one readable line each; --since replays recent history first."""
    from bridge.cli.tail import parse_duration
    from bridge.cli.tail import tail as tail_events

    try:
        window = parse_duration(since) if since is not None else None
    except ValueError as exc:
        err_console.print(f"[red]--since:[/red] {exc}")
        raise typer.Exit(2) from None

    subject = pattern or f"{subject_prefix}.evt.>"
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            tail_events(
                nats_servers(nats_url),
                subject,
                console=console,
                limit=limit,
                connect=client_connect_options(),
                since=window,
            )
        )


@app.command()
def demo(
    timeout: float = typer.Option(300.0, help="Give up after this many seconds."),
    provider: str = typer.Option(
        "story",
        help="Whose happy path: story (project, source, plan, approval, job, finalize), syllaby "
        "(storyboard create, generate, clips for every scene, render), or another installed "
        "provider that declares one (storybridge providers).",
    ),
) -> None:
    """Walk a provider's happy path on embedded defaults, printing every event: Story's by default
    (project, source, plan, approval, job, finalize)."""
    from bridge.cli.demo_kit import narrate
    from bridge.ops.logging import configure_logging

    walk = providers.declared("demo", "demo", provider)
    configure_logging("console", level="WARNING")  # the events are the show
    ok = asyncio.run(narrate(console, walk, timeout=timeout))
    raise typer.Exit(0 if ok else 1)


# Verbs kept in their own modules, registered here so the app is assembled in one place.
app.command()(measure.bench)
app.command()(contract.asyncapi)
app.command()(contract.schemas)
app.command()(status.status)
app.command()(providers.providers)


if __name__ == "__main__":
    app()
