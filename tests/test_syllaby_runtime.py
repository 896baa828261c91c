"""When the Syllaby provider is on, and what `storybridge run --sandbox` brings up."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client as NatsClient

from bridge.config import BridgeSettings
from bridge.nats.embedded import EmbeddedNats, free_port
from bridge.providers.syllaby.settings import SyllabySettings
from bridge.runtime import Bridge
from tests.fixtures.bridge import SUBJECTS, Outcomes, StartBridge, send
from tests.fixtures.process import BridgeProcess


async def test_syllaby_commands_name_the_fix_while_the_provider_is_off(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes
) -> None:
    """No token, no sandbox: a Syllaby command is refused at once, saying what turns it on."""
    bridge = await start_bridge()
    assert bridge.client("syllaby") is None
    for path in ("request", "durable"):
        answer = await send(nc, outcomes, path, "syllaby.storyboard.get", {"storyboard_id": 1})
        assert answer["ok"] is False
        assert answer["error"]["code"] == "invalid_command"
        assert "SYLLABY_API_TOKEN" in answer["error"]["message"]
    watched = await send(
        nc,
        outcomes,
        "request",
        "watch.add",
        {"provider": "syllaby", "resource": "storyboard", "id": 1},
    )
    assert watched["error"]["code"] == "invalid_command"


async def test_a_token_without_a_base_url_stops_the_start_naming_it(tmp_path: Path) -> None:
    settings = BridgeSettings(
        api_key=f"sh_{'0' * 18}_{'1' * 64}",
        providers={"syllaby": {"api_token": "5|abcdefabcdefabcdef"}},
        data_dir=tmp_path,
    )
    with pytest.raises(SystemExit, match="SYLLABY_BASE_URL"):
        await Bridge(settings).start()


@pytest.mark.slow
async def test_run_sandbox_serves_both_providers(
    nats_server: EmbeddedNats, nc: NatsClient, tmp_path: Path
) -> None:
    """`storybridge run --sandbox`: zero configuration, both sandboxes, both providers answer."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("STORYBRIDGE_", "SLEEPERHIT_", "SYLLABY_"))
    }
    env.update(
        {
            "STORYBRIDGE_SANDBOX": "1",
            "STORYBRIDGE_NATS_URL": nats_server.url,
            "STORYBRIDGE_HTTP_PORT": str(free_port()),
            "STORYBRIDGE_DATA_DIR": str(tmp_path / "data"),
        }
    )
    proc = BridgeProcess(env, tmp_path / "bridge.log").start()
    try:
        await nc.flush()

        async def ask(command: str, body: dict[str, Any]) -> dict[str, Any]:
            reply = await nc.request(
                SUBJECTS.request(command), json.dumps(body).encode(), timeout=30
            )
            return dict(json.loads(reply.data))

        story = await ask("project.create", {"name": "both"})
        syllaby = await ask("syllaby.storyboard.create", {"title": "both", "mode": "wizard"})
        assert story["ok"] is True, story
        assert syllaby["ok"] is True and syllaby["status"] == 201, syllaby
        assert "syllaby sandbox started" in proc.log_text()
    finally:
        assert proc.terminate() == 0


def test_the_syllaby_settings_are_run_options() -> None:
    from typer.testing import CliRunner

    from bridge.cli.app import app

    result = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "250"})
    assert result.exit_code == 0
    for option in (
        "--syllaby-api-token",
        "--syllaby-base-url",
        "--syllaby-rate-limit-per-minute",
        "--ledger-lease-seconds",
    ):
        assert option in result.output


def test_settings_read_the_contracts_syllaby_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYLLABY_API_TOKEN", "3|tokensecretvalue")
    monkeypatch.setenv("SYLLABY_BASE_URL", "https://api.syllaby.io/v2")
    monkeypatch.setenv("STORYBRIDGE_SYLLABY_RATE_LIMIT_PER_MINUTE", "15")
    settings = SyllabySettings()  # the provider's own: the contract's names, read from the env
    assert settings.api_token is not None
    assert "tokensecretvalue" not in repr(settings)
    assert settings.base_url == "https://api.syllaby.io/v2"
    assert settings.rate_limit_per_minute == 15
    assert SyllabySettings(api_token=None).rate_limit_per_minute == 15
    assert not hasattr(BridgeSettings(), "syllaby_api_token")  # the core holds none of them
