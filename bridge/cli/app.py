"""The `storybridge` command line: run, sandbox, send, redrive, tail, status, providers, demo, bench,
asyncapi."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.json import JSON

from bridge.cli import contract, measure, providers, status
from bridge.cli.options import NatsUrl, SubjectPrefix, client_connect_options, nats_servers
from bridge.config import BridgeSettings

app = typer.Typer(
    name="storybridge",
    help="Event bridge between NATS and the Sleeper Hit Studio Story API: commands in, CloudEvents out.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals could hold the API key
)
console = Console()
err_console = Console(stderr=True)
STORY_SANDBOX_RATE_LIMIT = 120  # the Story API's own default per key


def _settings(**overrides: Any) -> BridgeSettings:
    """Environment first, then explicit options on top (only the ones given)."""
    return BridgeSettings(**{k: v for k, v in overrides.items() if v is not None})


def _scope_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _sandbox_key(spec: str) -> tuple[str, list[str] | None]:
    """`KEY` (every scope) or `KEY=scope,scope`; the secret is never printed back."""
    raw, sep, scopes = spec.partition("=")
    return raw.strip(), (_scope_list(scopes) if sep else None)


@app.command()
def run(
    sandbox: bool | None = typer.Option(
        None, "--sandbox", help="Run against the bundled API sandbox."
    ),
    api_key: str | None = typer.Option(
        None, envvar="SLEEPERHIT_API_KEY", show_envvar=True, help="Story API key."
    ),
    base_url: str | None = typer.Option(None, help="API base incl. /api/v1 (SLEEPERHIT_BASE_URL)."),
    nats_url: str | None = typer.Option(
        None, help="NATS URL(s), comma-separated (STORYBRIDGE_NATS_URL)."
    ),
    subject_prefix: str | None = typer.Option(
        None, help="First subject token (STORYBRIDGE_SUBJECT_PREFIX)."
    ),
    http_port: int | None = typer.Option(None, help="Health/metrics port (STORYBRIDGE_HTTP_PORT)."),
    log_format: str | None = typer.Option(None, help="json or console (STORYBRIDGE_LOG_FORMAT)."),
    data_dir: Path | None = typer.Option(None, help="Where the embedded NATS keeps its store."),
    command_extra_fields: str | None = typer.Option(
        None,
        help="pass or forbid: unknown command fields reach the API or are refused "
        "(STORYBRIDGE_COMMAND_EXTRA_FIELDS, default pass).",
    ),
    discovery_interval_seconds: float | None = typer.Option(
        None,
        help="Seconds between discovery sweeps; 0 = off (STORYBRIDGE_DISCOVERY_INTERVAL_SECONDS).",
    ),
    command_deadline_seconds: float | None = typer.Option(
        None,
        help="How long a retryable durable command is kept trying before it is dead-lettered "
        "(STORYBRIDGE_COMMAND_DEADLINE_SECONDS, default 86400).",
    ),
    circuit_probe_seconds: float | None = typer.Option(
        None,
        help="Seconds between probes while a provider's circuit is open "
        "(STORYBRIDGE_CIRCUIT_PROBE_SECONDS, default 60).",
    ),
    route_probe_max_seconds: float | None = typer.Option(
        None,
        help="Longest wait between probes of a failing route "
        "(STORYBRIDGE_ROUTE_PROBE_MAX_SECONDS, default 30).",
    ),
    route_max_in_flight: int | None = typer.Option(
        None,
        help="Durable commands of one route running at once "
        "(STORYBRIDGE_ROUTE_MAX_IN_FLIGHT, default 3/4 of STORYBRIDGE_MAX_IN_FLIGHT).",
    ),
    stream_replicas: int | None = typer.Option(
        None, help="Replicas of every stream and KV bucket (STORYBRIDGE_STREAM_REPLICAS)."
    ),
    nats_creds: Path | None = typer.Option(None, help="NATS .creds file (STORYBRIDGE_NATS_CREDS)."),
    nats_nkey_seed: str | None = typer.Option(
        None,
        help="NKey seed; prefer the env or --nats-nkey-seed-file (STORYBRIDGE_NATS_NKEY_SEED).",
    ),
    nats_nkey_seed_file: Path | None = typer.Option(
        None, help="File holding the NKey seed (STORYBRIDGE_NATS_NKEY_SEED_FILE)."
    ),
    nats_token: str | None = typer.Option(
        None, help="NATS token; prefer the env or --nats-token-file (STORYBRIDGE_NATS_TOKEN)."
    ),
    nats_token_file: Path | None = typer.Option(
        None, help="File holding the NATS token (STORYBRIDGE_NATS_TOKEN_FILE)."
    ),
    nats_user: str | None = typer.Option(None, help="NATS user (STORYBRIDGE_NATS_USER)."),
    nats_password: str | None = typer.Option(
        None, help="NATS password; prefer the env or a file (STORYBRIDGE_NATS_PASSWORD)."
    ),
    nats_password_file: Path | None = typer.Option(
        None, help="File holding the NATS password (STORYBRIDGE_NATS_PASSWORD_FILE)."
    ),
    nats_tls_ca: Path | None = typer.Option(
        None, help="CA bundle for the NATS servers (STORYBRIDGE_NATS_TLS_CA)."
    ),
    nats_tls_cert: Path | None = typer.Option(
        None, help="Client certificate for NATS (STORYBRIDGE_NATS_TLS_CERT)."
    ),
    nats_tls_key: Path | None = typer.Option(
        None, help="Client certificate's key (STORYBRIDGE_NATS_TLS_KEY)."
    ),
    credits_interval_seconds: float | None = typer.Option(
        None, help="How often to read GET /credits (STORYBRIDGE_CREDITS_INTERVAL_SECONDS)."
    ),
    credits_low_threshold: float | None = typer.Option(
        None,
        help="Balance below which credits.low is published (STORYBRIDGE_CREDITS_LOW_THRESHOLD).",
    ),
    syllaby_api_token: str | None = typer.Option(
        None,
        envvar="SYLLABY_API_TOKEN",
        show_envvar=True,
        help="Syllaby API token; turns the Syllaby provider on (prefer the env).",
    ),
    syllaby_base_url: str | None = typer.Option(
        None, help="Syllaby base URL, required with the token (SYLLABY_BASE_URL)."
    ),
    syllaby_rate_limit_per_minute: int | None = typer.Option(
        None,
        help="This replica's share of the Syllaby token's budget "
        "(STORYBRIDGE_SYLLABY_RATE_LIMIT_PER_MINUTE, default 30).",
    ),
    ledger_lease_seconds: float | None = typer.Option(
        None,
        help="Seconds a command-ledger claim lasts without renewal "
        "(STORYBRIDGE_LEDGER_LEASE_SECONDS, default 30).",
    ),
    poll_budget_share: float | None = typer.Option(
        None,
        help="Share of the rate budget polls spend at most (STORYBRIDGE_POLL_BUDGET_SHARE).",
    ),
) -> None:
    """Run the bridge. With no NATS URL it starts an embedded nats-server; --sandbox needs no key."""
    import structlog

    from bridge.nats.connection import NatsRefused
    from bridge.nats.streams import ReplicasUnavailable
    from bridge.ops.logging import configure_logging
    from bridge.service import serve

    settings = _settings(
        sandbox=sandbox,
        api_key=api_key,
        base_url=base_url,
        nats_url=nats_url,
        subject_prefix=subject_prefix,
        http_port=http_port,
        log_format=log_format,
        data_dir=data_dir,
        command_extra_fields=command_extra_fields,
        discovery_interval_seconds=discovery_interval_seconds,
        command_deadline_seconds=command_deadline_seconds,
        circuit_probe_seconds=circuit_probe_seconds,
        route_probe_max_seconds=route_probe_max_seconds,
        route_max_in_flight=route_max_in_flight,
        stream_replicas=stream_replicas,
        nats_creds=nats_creds,
        nats_nkey_seed=nats_nkey_seed,
        nats_nkey_seed_file=nats_nkey_seed_file,
        nats_token=nats_token,
        nats_token_file=nats_token_file,
        nats_user=nats_user,
        nats_password=nats_password,
        nats_password_file=nats_password_file,
        nats_tls_ca=nats_tls_ca,
        nats_tls_cert=nats_tls_cert,
        nats_tls_key=nats_tls_key,
        credits_interval_seconds=credits_interval_seconds,
        credits_low_threshold=credits_low_threshold,
        syllaby_api_token=syllaby_api_token,
        syllaby_base_url=syllaby_base_url,
        syllaby_rate_limit_per_minute=syllaby_rate_limit_per_minute,
        ledger_lease_seconds=ledger_lease_seconds,
        poll_budget_share=poll_budget_share,
    )
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
        None, help="Requests per minute per key before 429 (default: story 120, syllaby 30)."
    ),
    credits: int = typer.Option(1000, help="Starting Studio Credit balance."),
    seed: int = typer.Option(0, help="Seed for ids and injected faults (runs repeat)."),
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
        "story", "--provider", help="story (at /api/v1) or syllaby (at /v2; --key is a token)."
    ),
) -> None:
    """Serve one provider's sandbox alone: the Story API's at http://HOST:PORT/api/v1 (default),
    or Syllaby's at http://HOST:PORT/v2."""
    if provider not in ("story", "syllaby"):
        err_console.print(f"storybridge sandbox: --provider is story or syllaby, not {provider!r}")
        raise typer.Exit(2)
    if provider == "syllaby":
        from bridge.cli.syllaby_sandbox import serve_syllaby

        serve_syllaby(
            host, port, faults, scopes, key, accept_any_key, speed, rate_limit, credits, seed
        )
        return
    from bridge.sandboxes.story import StorySandboxConfig
    from bridge.sandboxes.story.server import serve as serve_sandbox

    keys = dict(_sandbox_key(spec) for spec in key)
    any_key = accept_any_key if accept_any_key is not None else not keys
    config = StorySandboxConfig(
        speed=speed,
        rate_limit_per_minute=rate_limit if rate_limit is not None else STORY_SANDBOX_RATE_LIMIT,
        initial_credits=credits,
        seed=seed,
        faults=json.loads(faults) if faults else [],
        accept_any_key=any_key,
        any_key_scopes=_scope_list(scopes) if scopes is not None else None,
        keys=keys,
    )
    try:
        from bridge.sandboxes.story.state import StorySandboxState

        StorySandboxState(config)  # bad keys or scopes fail here, naming the problem
    except ValueError as err:
        err_console.print(f"storybridge sandbox: {err}")
        raise typer.Exit(2) from None
    accepted = "any sh_<18 hex>_<64 hex> key" if any_key else f"{len(keys)} listed key(s)"
    granted = f"scopes {scopes}" if scopes is not None else "every scope"
    console.print(
        f"Story API sandbox on http://{host}:{port}/api/v1 ({accepted}; {granted} for any key)"
    )
    serve_sandbox(config, host=host, port=port)


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
        help="story: project, source, plan, approval, job, finalize; syllaby: storyboard create, "
        "generate, clips for every scene, render.",
    ),
) -> None:
    """Walk the happy path (project, source, plan, approval, job, finalize) on embedded defaults."""
    if provider not in ("story", "syllaby"):
        err_console.print(f"unknown provider {provider!r}: story or syllaby")
        raise typer.Exit(2)
    from bridge.cli.demo import run_demo
    from bridge.ops.logging import configure_logging

    configure_logging("console", level="WARNING")  # the events are the show
    ok = asyncio.run(run_demo(console, timeout=timeout, provider=provider))
    raise typer.Exit(0 if ok else 1)


# Verbs kept in their own modules, registered here so the app is assembled in one place.
app.command()(measure.bench)
app.command()(contract.asyncapi)
app.command()(contract.schemas)
app.command()(status.status)
app.command()(providers.providers)


if __name__ == "__main__":
    app()
