"""Unknown command fields (STORYBRIDGE_COMMAND_EXTRA_FIELDS): passed to the API or refused, while
a misspelt known field is caught under both policies."""

from __future__ import annotations

from typing import Any

import pytest
from nats.aio.client import Client as NatsClient
from pydantic import ValidationError

from bridge.commands import validate_command
from bridge.config import BridgeSettings
from schemas.catalog import COMMAND_MODELS
from schemas.wire.extra_fields import UnknownField
from tests.fixtures.bridge import Outcomes, StartBridge, send
from tests.fixtures.requestlog import requests_of

MUSIC = COMMAND_MODELS["artifact.music"]


class TestPolicy:
    def test_pass_keeps_an_unknown_field_in_the_request_body(self) -> None:
        """Under pass, a field the bridge does not know goes into body() beside the known ones."""
        cmd = validate_command(
            MUSIC, {"artifactId": "cma_1", "prompt": "pads", "tempoCurve": [1, 2]}, "pass"
        )
        body = cmd.body()
        assert body is not None
        assert body.to_body() == {"prompt": "pads", "tempoCurve": [1, 2]}

    def test_forbid_refuses_an_unknown_field_naming_it_and_the_setting(self) -> None:
        """Under forbid, the unknown field is refused; the message says how to let it through."""
        with pytest.raises(UnknownField) as err:
            validate_command(MUSIC, {"artifactId": "cma_1", "tempoCurve": [1]}, "forbid")
        assert err.value.field == "tempoCurve"
        assert "STORYBRIDGE_COMMAND_EXTRA_FIELDS" in str(err.value)

    @pytest.mark.parametrize("policy", ["pass", "forbid"])
    def test_a_misspelt_known_field_is_refused_naming_the_known_one(self, policy: Any) -> None:
        """`promt` is one letter from `prompt`: refused under both policies, with the fix."""
        with pytest.raises(UnknownField) as err:
            validate_command(MUSIC, {"artifactId": "cma_1", "promt": "pads"}, policy)
        assert err.value.field == "promt"
        assert "did you mean 'prompt'" in str(err.value)

    def test_a_command_without_a_body_refuses_unknown_fields_even_under_pass(self) -> None:
        """plan.resume sends no body: an unknown field has nowhere to go, so it is refused."""
        with pytest.raises(UnknownField, match="sends no request body"):
            validate_command(COMMAND_MODELS["plan.resume"], {"planId": "p", "force": True}, "pass")

    def test_nested_objects_keep_their_strict_models(self) -> None:
        """Only top-level fields pass: an unknown field inside `target` fails validation there."""
        plan = COMMAND_MODELS["plan.create"]
        payload = {
            "projectId": "cmp_1",
            "target": {"audience": "a", "objective": "o", "outcome": "x", "mood": "calm"},
            "artifactRequests": [{"type": "table_read"}],
        }
        with pytest.raises(ValidationError) as err:
            validate_command(plan, payload, "pass")
        assert err.value.errors()[0]["loc"] == ("target", "mood")

    def test_the_default_policy_is_pass(self) -> None:
        """The default lets the API's new fields through (docs: why)."""
        assert BridgeSettings().command_extra_fields == "pass"


def _project_posts(sandbox: Any) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = requests_of(sandbox)
    return [e for e in entries if e["method"] == "POST" and e["path"] == "/story-projects"]


@pytest.mark.parametrize("path", ["request", "durable"])
async def test_under_pass_a_field_the_api_added_yesterday_reaches_the_api(
    path: str, start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes, sandbox: Any
) -> None:
    """project.create with an unknown field is sent: the API itself answers about that field
    (the sandbox, stricter than the live API, refuses it and says so, with its requestId)."""
    await start_bridge(command_extra_fields="pass")
    outcome = await send(
        nc, outcomes, path, "project.create", {"name": "tomorrow", "colorTheme": "teal"}
    )
    assert outcome["ok"] is False
    assert outcome["error"]["code"] == "validation_failed"  # the API's code, not the bridge's
    assert "colorTheme" in outcome["error"]["message"]
    assert outcome["error"]["requestId"]
    assert len(_project_posts(sandbox)) == 1


@pytest.mark.parametrize("policy", ["pass", "forbid"])
async def test_a_misspelt_field_never_leaves_the_bridge(
    policy: str, start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes, sandbox: Any
) -> None:
    """`descripton` is refused as invalid_command naming `description`, and nothing is sent."""
    await start_bridge(command_extra_fields=policy)
    outcome = await send(
        nc, outcomes, "request", "project.create", {"name": "typo", "descripton": "x"}
    )
    assert outcome["ok"] is False
    assert outcome["error"]["code"] == "invalid_command"
    assert outcome["error"]["field"] == "descripton"
    assert "'description'" in outcome["error"]["message"]
    assert _project_posts(sandbox) == []


async def test_under_forbid_an_unknown_field_is_refused_before_the_api(
    start_bridge: StartBridge, nc: NatsClient, outcomes: Outcomes, sandbox: Any
) -> None:
    """forbid answers invalid_command for the unknown field and sends nothing."""
    await start_bridge(command_extra_fields="forbid")
    outcome = await send(
        nc, outcomes, "request", "project.create", {"name": "strict", "colorTheme": "teal"}
    )
    assert outcome["error"]["code"] == "invalid_command"
    assert outcome["error"]["field"] == "colorTheme"
    assert _project_posts(sandbox) == []
