"""Providers are plugins (CONTRACT.md, "Providers"): found through the `storybridge.providers`
entry points, listed by `storybridge providers`, and a third one (tests/plugins/storybridge_echo)
gets commands, events and AsyncAPI channels with no edit to bridge/, handlers/ or schemas/."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from asyncio.subprocess import PIPE
from pathlib import Path
from typing import Any

import httpx
import pytest
from nats.aio.client import Client as NatsClient
from typer.testing import CliRunner

from bridge import plugins
from bridge.cli.app import app
from bridge.nats.embedded import EmbeddedNats, free_port
from tests.fixtures.bridge import SUBJECTS, Outcomes, Recorder, StartBridge, send
from tests.fixtures.cli import CLI, sandbox_process
from tests.fixtures.plugins import echo_env
from tests.fixtures.process import BridgeProcess


def _listed(*args: str) -> dict[str, dict[str, Any]]:
    result = CliRunner().invoke(app, ["providers", "--json", *args])
    assert result.exit_code == 0, result.output
    return {row["name"]: row for row in json.loads(result.output)["providers"]}


def test_story_and_syllaby_are_entry_points_of_this_distribution() -> None:
    listed = _listed()
    assert set(listed) == {"story", "syllaby"}
    assert listed["story"]["entryPoint"] == "handlers.story.plugin:PROVIDER"
    assert listed["syllaby"]["entryPoint"] == "handlers.syllaby.plugin:PROVIDER"
    assert all(row["distribution"].startswith("storybridge ") for row in listed.values())


def test_providers_says_which_would_start_and_why_not(monkeypatch: pytest.MonkeyPatch) -> None:
    off = _listed()
    assert off["story"]["enabled"] is False and "SLEEPERHIT_API_KEY" in off["story"]["reason"]
    assert off["syllaby"] == {**off["syllaby"], "enabled": False}
    assert off["syllaby"]["reason"] == "SYLLABY_API_TOKEN is not set"
    # A contradiction `run` would stop on is a reason here, not a crash.
    monkeypatch.setenv("SYLLABY_API_TOKEN", "5|abcdefabcdefabcdef")
    assert "SYLLABY_BASE_URL" in _listed()["syllaby"]["reason"]
    on = _listed("--sandbox")
    assert on["story"]["enabled"] and on["syllaby"]["enabled"]
    assert on["syllaby"]["watches"] == ["scene", "storyboard"]
    table = CliRunner().invoke(app, ["providers"], env={"COLUMNS": "200"})
    assert (
        table.exit_code == 0 and "syllaby" in table.output and "SYLLABY_API_TOKEN" in table.output
    )


def test_a_third_provider_is_listed_once_installed(echo_installed: None) -> None:
    echo = _listed()["echo"]
    assert echo["distribution"] == "storybridge-echo 0.1"
    assert echo["entryPoint"] == "storybridge_echo.plugin:PROVIDER"
    assert echo["enabled"] is False and echo["reason"] == "STORYBRIDGE_ECHO_BASE_URL is not set"
    assert _listed("--sandbox")["echo"]["enabled"] is True


def test_two_providers_may_not_claim_one_command(
    echo_installed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storybridge_echo.plugin import PROVIDER

    monkeypatch.setattr(PROVIDER, "commands", {"project.create": object()})
    plugins.reload()
    with pytest.raises(plugins.ProviderError, match=r"'project\.create' is claimed by"):
        plugins.installed()


async def test_a_run_with_no_provider_installed_stops_saying_how_to_install_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from bridge.config import BridgeSettings
    from bridge.runtime import Bridge

    monkeypatch.setattr(plugins, "entry_points", lambda group: [])
    plugins.reload()
    try:
        with pytest.raises(SystemExit, match="no provider is installed"):
            await Bridge(BridgeSettings(sandbox=True, data_dir=tmp_path)).start()
    finally:
        monkeypatch.undo()
        plugins.reload()
    assert {"story", "syllaby"} <= set(plugins.providers())


async def test_a_command_of_a_provider_not_installed_is_unknown(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes
) -> None:
    await start_bridge()
    answer = await send(nc, outcomes, "request", "echo.thing.create", {"name": "x"})
    assert answer["error"]["code"] == "invalid_command"
    assert "unknown command 'echo.thing.create'" in answer["error"]["message"]
    watched = await send(
        nc, outcomes, "request", "watch.add", {"provider": "echo", "resource": "thing", "id": "a"}
    )
    assert watched["error"]["code"] == "invalid_command"
    assert "unknown provider 'echo'" in watched["error"]["message"]


async def test_the_third_provider_gets_commands_watches_events_and_channels(
    echo_sandbox: Any,
    monkeypatch: pytest.MonkeyPatch,
    start_bridge: StartBridge,
    nc: NatsClient,
    outcomes: Outcomes,
) -> None:
    monkeypatch.setenv("STORYBRIDGE_ECHO_BASE_URL", echo_sandbox.base_url)
    events = Recorder()
    await nc.subscribe(SUBJECTS.event("echo.>"), cb=events.on_msg)
    bridge = await start_bridge()
    assert set(bridge.running) == {"story", "echo"}

    def ready(thing: str) -> bool:
        subject = SUBJECTS.event("echo.thing.ready")
        return any(m.subject == subject and thing in m.data.decode() for m in events.messages)

    # Both intake paths, one effect each, are the shared capability tests' (tests/capabilities/);
    # here, what a third provider's events look like.
    created = await send(nc, outcomes, "request", "echo.thing.create", {"name": "request"})
    assert created["ok"] is True and created["status"] == 201, created
    thing = created["result"]["id"]
    assert await events.wait_for(lambda: ready(thing))
    event = json.loads(events.on("echo.thing.ready")[0].data)
    assert event["type"] == "dev.storybridge.echo.thing.ready"
    assert event["data"]["status"] == "ready" and event["data"]["provider"] == "echo"
    statuses = [m.subject.rsplit(".", 1)[1] for m in events.messages]
    assert statuses[-1] == "ready" and "pending" in statuses

    # watch.add of a thing made elsewhere, checked against the API; a made-up one is its 404.
    async with httpx.AsyncClient() as http:
        made = (await http.post(f"{echo_sandbox.base_url}/things", json={"name": "x"})).json()
    added = await send(
        nc,
        outcomes,
        "request",
        "watch.add",
        {"provider": "echo", "resource": "thing", "id": made["id"]},
    )
    assert added["ok"] is True and added["result"]["provider"] == "echo", added
    missing = await send(
        nc,
        outcomes,
        "request",
        "watch.add",
        {"provider": "echo", "resource": "thing", "id": "th_nope"},
    )
    assert missing["error"]["code"] == "not_found"

    channels = bridge.asyncapi()["channels"]
    titles = {c.get("title") or key for key, c in channels.items()}
    assert {"evt.echo.thing.ready", "req.echo.thing.create", "cmd.echo.thing.create"} <= titles


@pytest.mark.slow
async def test_run_sandbox_starts_an_installed_provider_in_a_child_process(
    nats_server: EmbeddedNats, nc: NatsClient, tmp_path: Path
) -> None:
    """`storybridge run --sandbox` in a process that has Echo on its PYTHONPATH: found, started
    with its own sandbox, answering, documented on /asyncapi."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("STORYBRIDGE_", "SLEEPERHIT_", "SYLLABY_"))
    }
    env = echo_env(
        {
            **env,
            "STORYBRIDGE_SANDBOX": "1",
            "STORYBRIDGE_NATS_URL": nats_server.url,
            "STORYBRIDGE_HTTP_PORT": str(free_port()),
            "STORYBRIDGE_DATA_DIR": str(tmp_path / "data"),
        }
    )
    listed = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bridge.cli.app", "providers", "--json", env=env, stdout=PIPE
    )
    out, _ = await listed.communicate()
    assert listed.returncode == 0 and "storybridge-echo 0.1" in out.decode()
    proc = BridgeProcess(env, tmp_path / "bridge.log").start()
    try:
        body = json.dumps({"name": "child"}).encode()
        reply = await nc.request(SUBJECTS.request("echo.thing.create"), body, timeout=30)
        answer = json.loads(reply.data)
        assert answer["ok"] is True and answer["status"] == 201, answer
        async with httpx.AsyncClient() as http:
            doc = (await http.get(f"http://127.0.0.1:{proc.http_port}/asyncapi")).json()
        assert any("echo.thing.ready" in key for key in doc["channels"])
    finally:
        assert proc.terminate() == 0


def test_the_core_names_no_provider_it_does_not_ship() -> None:
    """The third provider needed no edit to the core: nothing under bridge/, handlers/ or schemas/
    (nor the project's metadata) names Echo or its package. A provider the core had to be taught
    about would show up here first."""
    root = Path(__file__).resolve().parent.parent
    named = re.compile(r"storybridge_echo|\bechothing\b|\becho\.thing\b|EchoPlugin|\"echo\"")
    found = [
        str(path.relative_to(root))
        for folder in ("bridge", "handlers", "schemas")
        for path in (root / folder).rglob("*.py")
        if named.search(path.read_text())
    ]
    found += ["pyproject.toml"] if named.search((root / "pyproject.toml").read_text()) else []
    assert found == []
    # ...while the provider itself is installed and takes commands: the check above is not vacuous.
    assert (
        "echo.thing.create" in Path(root, "tests/plugins/storybridge_echo/commands.py").read_text()
    )


@pytest.fixture
def broken_distributions(tmp_path: Path) -> Any:
    """Distributions registering a provider that cannot load, and one that claims a core command,
    installed the way Echo is: a dist-info directory on sys.path."""

    def install(entry_points: str, module: str = "") -> None:
        info = tmp_path / "storybridge_broken-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            "Metadata-Version: 2.1\nName: storybridge-broken\nVersion: 0.1\n"
        )
        (info / "entry_points.txt").write_text(f"[storybridge.providers]\n{entry_points}\n")
        if module:
            (tmp_path / "storybridge_broken.py").write_text(module)
        sys.path.insert(0, str(tmp_path))
        plugins.reload()

    yield install
    if str(tmp_path) in sys.path:
        sys.path.remove(str(tmp_path))
    sys.modules.pop("storybridge_broken", None)
    plugins.reload()


def test_a_provider_that_cannot_load_is_listed_as_such_and_the_rest_run(
    broken_distributions: Any,
) -> None:
    broken_distributions("broken = storybridge_missing_module:PROVIDER")
    assert {item.name for item in plugins.installed()} >= {"story", "syllaby"}
    assert [f.name for f in plugins.failed()] == ["broken"]
    result = CliRunner().invoke(app, ["providers", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)["providers"]}
    assert rows["broken"]["enabled"] is False
    assert "failed to load" in rows["broken"]["reason"]
    assert rows["story"]["reason"] != rows["broken"]["reason"]


def test_a_provider_may_not_replace_a_core_command(broken_distributions: Any) -> None:
    module = """
from handlers.watches import HANDLERS as CORE

class Thief:
    name = "thief"
    required = False
    enable_hint = "never"
    commands = {"watch.add": CORE["watch.add"]}
    watch_targets = None
    reconciler = None
    channels = None

    def disabled_reason(self, settings):
        return "never"

    async def start(self, shared):
        raise RuntimeError

    async def attach(self, running, attached):
        return None

PROVIDER = Thief()
"""
    broken_distributions("thief = storybridge_broken:PROVIDER", module)
    from handlers import HANDLERS

    with pytest.raises(plugins.ProviderError, match="core's command"):
        dict(HANDLERS)


def test_sandbox_serves_an_installed_providers_sandbox_alone() -> None:
    """`storybridge sandbox --provider echo` in a process with Echo on its PYTHONPATH: the bundle's
    `sandbox_alone` serves it, with no edit to the command; options it cannot take are refused."""
    env = echo_env(dict(os.environ))
    fault = json.dumps([{"path": "/things", "method": "POST", "status": 503, "times": 1}])
    options = ("--provider", "echo", "--speed", "5", "--faults", fault)
    with sandbox_process(*options, ready_path="/_sandbox/clock", env=env) as (_, port):
        things = f"http://127.0.0.1:{port}/echo/v1/things"
        assert httpx.post(things, json={"name": "alone"}).status_code == 503  # --faults taken
        created = httpx.post(things, json={"name": "alone"})
        assert created.status_code == 201 and created.json()["name"] == "alone"
        assert httpx.get(f"http://127.0.0.1:{port}/_sandbox/clock").json()["speed"] == 5
    refused = subprocess.run(
        [*CLI, "sandbox", "--provider", "echo", "--key", "k"],
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2
    assert (
        b"the Echo sandbox takes no keys and no credits; drop --key"
        in refused.stdout + refused.stderr
    )


async def test_demo_walks_an_installed_providers_happy_path(echo_installed: None) -> None:
    """`storybridge demo --provider echo`: the bundle's `demo` walks on the demo kit (an embedded
    bridge on every installed provider's sandbox), with no edit to the command."""
    from rich.console import Console

    from bridge.cli.demo_kit import narrate
    from bridge.cli.providers import declared

    console = Console(record=True, width=200)
    assert await narrate(console, declared("demo", "demo", "echo"), timeout=60)
    printed = console.export_text()
    assert "Echo sandbox" in printed and "echo.thing.ready" in printed and "Thing: th_" in printed


def test_demo_and_sandbox_refuse_an_unknown_provider_naming_the_ones_there_are() -> None:
    for verb in ("demo", "sandbox"):
        result = CliRunner().invoke(app, [verb, "--provider", "other"], env={"COLUMNS": "200"})
        assert result.exit_code == 2
        said = " ".join(result.output.split())
        assert f"storybridge {verb}: --provider is one of story, syllaby, not 'other'" in said


def test_a_provider_that_failed_to_load_is_named_with_its_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken = plugins.Failed("story", "x:y", "x 1", "failed to load: ImportError('gone')")
    monkeypatch.setattr(plugins, "failed", lambda: (broken,))
    monkeypatch.setattr(
        plugins, "installed", lambda: tuple(i for i in _installed() if i.name != "story")
    )
    result = CliRunner().invoke(app, ["demo"], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    assert "provider 'story' is installed but failed to load: ImportError('gone')" in said


_installed = plugins.installed
