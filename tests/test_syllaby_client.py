"""The Syllaby client against the Syllaby sandbox over HTTP: every answer mapped to the contract's
codes with the body kept, safe repeats only, and the token nowhere but the Authorization header."""

from __future__ import annotations

import io
import logging
import pickle
from collections.abc import AsyncIterator
from typing import Any

import pytest
import structlog

from bridge.http import errors as e
from bridge.http.transport import RetryPolicy
from bridge.providers.syllaby import errors as se
from bridge.providers.syllaby.client import SyllabyClient
from bridge.providers.syllaby.token import SyllabyToken
from bridge.redaction import redact
from handlers.syllaby import ROWS
from schemas.catalog import parse_command
from tests.fixtures.leaks import collect, exception_texts
from tests.fixtures.syllaby_sandbox import SyllabyApi

ENDPOINTS = {row.model.command: row.endpoint for row in ROWS}  # each command as its row sends it


@pytest.fixture
async def client(syllaby_sandbox: Any, syllaby_token: str) -> AsyncIterator[SyllabyClient]:
    retry = RetryPolicy(budget_seconds=2.0, base_delay=0.01, max_delay=0.05)
    async with SyllabyClient(
        syllaby_sandbox.base_url, syllaby_token, retry=retry, timeout=5
    ) as api:
        yield api


def faults(sandbox: Any, *rules: dict[str, Any]) -> None:
    sandbox.control.put("/faults", json=list(rules)).raise_for_status()


async def _failure(coro: Any) -> e.ApiError:
    err = await collect(coro)
    assert isinstance(err, e.ApiError), repr(err)
    return err


class TestErrorMapping:
    async def test_unknown_storyboard_is_not_found(self, client: SyllabyClient) -> None:
        err = await _failure(client.get_storyboard(999))
        assert isinstance(err, e.NotFound) and err.code == "not_found" and err.status == 404
        assert err.details["message"] == "Resource not found."

    async def test_no_subscription_is_subscription_required_and_account_level(
        self, client: SyllabyClient, syllaby_sandbox: Any
    ) -> None:
        syllaby_sandbox.control.put("/subscription", json={"active": False})
        err = await _failure(client.get_storyboard(1))
        assert err.code == "subscription_required" and err.status == 403
        assert e.is_account_level(err) and err.unapplied
        assert err.details["code"] == "SUBSCRIPTION-REQUIRED"

    async def test_a_precondition_403_is_forbidden_not_account_level(
        self, client: SyllabyClient, syllaby_api: SyllabyApi
    ) -> None:
        """ "A script is required before rendering." shares 403 with the subscription gate."""
        board_id = syllaby_api.storyboard()
        cmd = parse_command("syllaby.storyboard.render", {"storyboard_id": board_id})
        err = await _failure(client.send(cmd, ENDPOINTS[cmd.command]))  # type: ignore[arg-type]
        assert err.code == "forbidden" and err.status == 403
        assert not e.is_account_level(err)
        assert err.message == err.details["message"]

    async def test_an_unknown_token_is_unauthenticated(self, syllaby_sandbox: Any) -> None:
        minted = syllaby_sandbox.control.post("/tokens").json()["token"]
        syllaby_sandbox.control.request("DELETE", "/tokens", json={"token": minted})
        async with SyllabyClient(syllaby_sandbox.base_url, minted) as api:
            err = await _failure(api.get_storyboard(1))
        assert err.code == "unauthenticated" and err.status == 401 and e.is_account_level(err)

    async def test_too_few_credits_is_insufficient_credits(
        self, client: SyllabyClient, syllaby_api: SyllabyApi, syllaby_sandbox: Any
    ) -> None:
        board = syllaby_api.with_clips()
        syllaby_sandbox.control.put("/credits", json={"balance": 0})
        cmd = parse_command("syllaby.storyboard.render", {"storyboard_id": board["id"]})
        err = await _failure(client.send(cmd, ENDPOINTS[cmd.command]))  # type: ignore[arg-type]
        assert isinstance(err, e.InsufficientCredits) and err.code == "insufficient_credits"
        assert err.status == 402 and err.details["available"] == 0

    async def test_laravel_422_is_validation_failed_with_its_errors(
        self, client: SyllabyClient, syllaby_api: SyllabyApi
    ) -> None:
        board_id = syllaby_api.storyboard()
        err = await _failure(
            client.request("POST", f"text-to-scene/{board_id}/prompt", json={"prompt": ""})
        )
        assert isinstance(err, se.SyllabyValidationFailed) and err.code == "validation_failed"
        assert "clip_engine_id" in err.errors

    async def test_a_5xx_is_ambiguous_and_a_post_is_not_resent(
        self, client: SyllabyClient, syllaby_api: SyllabyApi, syllaby_sandbox: Any
    ) -> None:
        faults(syllaby_sandbox, {"path": "/text-to-scene", "method": "POST", "status": 500})
        cmd = parse_command("syllaby.storyboard.create", {"title": "t", "mode": "wizard"})
        err = await _failure(client.send(cmd, ENDPOINTS[cmd.command]))  # type: ignore[arg-type]
        assert err.retryable and not err.unapplied
        assert len(syllaby_api.logged("/text-to-scene", "POST")) == 1


class TestRetries:
    async def test_a_put_that_sets_a_value_is_retried_on_a_5xx(
        self, client: SyllabyClient, syllaby_api: SyllabyApi, syllaby_sandbox: Any
    ) -> None:
        board = syllaby_api.generated()
        first, second = board["scenes"][0]["id"], board["scenes"][1]["id"]
        path = f"/text-to-scene/{board['id']}/scenes/{second}/chain"
        faults(syllaby_sandbox, {"path": path, "method": "PUT", "status": 503, "times": 1})
        cmd = parse_command(
            "syllaby.scene.chain",
            {"storyboard_id": board["id"], "scene_id": second, "chain_scene_id": first},
        )
        resp = await client.send(cmd, ENDPOINTS[cmd.command])  # type: ignore[arg-type]
        assert resp.status == 200
        assert [x["status"] for x in syllaby_api.logged(path, "PUT")] == [503, 200]

    async def test_a_post_refused_by_a_429_is_sent_again_after_the_wait(
        self, client: SyllabyClient, syllaby_api: SyllabyApi, syllaby_sandbox: Any
    ) -> None:
        faults(
            syllaby_sandbox,
            {
                "path": "/text-to-scene",
                "method": "POST",
                "storm_429": True,
                "retry_after": 0,
                "times": 1,
            },
        )
        cmd = parse_command("syllaby.storyboard.create", {"title": "t", "mode": "wizard"})
        resp = await client.send(cmd, ENDPOINTS[cmd.command])  # type: ignore[arg-type]
        assert resp.status == 201
        assert [x["status"] for x in syllaby_api.logged("/text-to-scene", "POST")] == [429, 201]
        assert len(syllaby_api.state()["storyboards"]) == 1


class TestToken:
    def test_token_shows_only_a_hash_named_prefix(self) -> None:
        token = SyllabyToken("42|s3cr3tvalueofthetoken00")
        for text in (repr(token), str(token), token.prefix):
            assert "s3cr3tvalueofthetoken00" not in text
        assert token.authorization == "Bearer 42|s3cr3tvalueofthetoken00"
        with pytest.raises(TypeError):
            pickle.dumps(token)

    def test_redact_scrubs_a_registered_token_and_its_secret_part(self) -> None:
        SyllabyToken("7|another-secret-part-xyz")
        assert redact("header Bearer 7|another-secret-part-xyz sent") == "header Bearer *** sent"
        assert redact("just another-secret-part-xyz") == "just ***"

    def test_a_malformed_token_is_refused_without_echo(self) -> None:
        with pytest.raises(ValueError) as info:
            SyllabyToken("has a space-secret")
        assert "space-secret" not in str(info.value)


async def test_token_never_leaks_through_errors_retries_or_logs(
    syllaby_sandbox: Any,
    syllaby_token: str,
    syllaby_api: SyllabyApi,
    json_logs: io.StringIO,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every failure path with DEBUG logging on (httpx too); the token is nowhere."""
    secret = syllaby_token.split("|", 1)[1]
    caplog.set_level(logging.DEBUG)
    retry = RetryPolicy(budget_seconds=1.0, base_delay=0.01, max_delay=0.05)
    failures: list[BaseException] = []
    async with SyllabyClient(
        syllaby_sandbox.base_url, syllaby_token, retry=retry, timeout=2
    ) as api:
        failures.append(await collect(api.get_storyboard(404)))
        faults(
            syllaby_sandbox,
            {"path": "/text-to-scene/*", "method": "GET", "drop": True},
            {"path": "/text-to-scene", "method": "POST", "status": 500},
        )
        failures.append(await collect(api.get_storyboard(1)))
        cmd = parse_command("syllaby.storyboard.create", {"title": "t", "mode": "wizard"})
        failures.append(await collect(api.send(cmd, ENDPOINTS[cmd.command])))  # type: ignore[arg-type]
        syllaby_sandbox.control.put("/subscription", json={"active": False})
        faults(syllaby_sandbox)
        failures.append(await collect(api.get_storyboard(1)))
        structlog.get_logger("test").error("failure", exc_info=failures[-1])
        structlog.get_logger("test").info("client", client=api, key=api.key)
        logging.getLogger("test").warning("raw %s", syllaby_token)
    assert {type(f) for f in failures} >= {se.SyllabyNotFound, e.UpstreamUnavailable}
    for failure in failures:
        for text in exception_texts(failure):
            assert secret not in text
    out = capsys.readouterr()
    logs = json_logs.getvalue()
    assert '"api.retry"' in logs and "syllaby:" in logs
    # Our pipeline scrubs even a line that carried the token outright (pytest's own capture,
    # caplog, shows records before our processors, so that one test line is left out there).
    assert "raw ***" in logs
    ours = [r for r in caplog.records if r.msg != "raw %s"]
    for text in (logs, out.out, out.err, repr(api), *(r.getMessage() for r in ours)):
        assert secret not in text
