"""The key's 64-hex secret appears nowhere: logs, exception strings, reprs or chains."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest
import structlog

from bridge.http import errors as e
from bridge.http.keys import ApiKey
from bridge.http.ratelimit import Priority
from bridge.http.transport import RetryPolicy
from bridge.providers.story import errors as se
from bridge.providers.story.client import StoryClient, story_transport
from tests.fixtures.client import TEST_TIMEOUT, set_faults
from tests.fixtures.leaks import collect, exception_texts


async def test_secret_never_leaks_through_errors_retries_or_logs(
    sandbox: Any,
    sandbox_key: str,
    json_logs: io.StringIO,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Drive every failure path with logging on, then search everything for the secret."""
    secret = sandbox_key.split("_")[2]
    caplog.set_level(logging.DEBUG)
    retry = RetryPolicy(budget_seconds=1.5, base_delay=0.01, max_delay=0.05)
    failures: list[BaseException] = []
    async with StoryClient(
        story_transport(sandbox.base_url, sandbox_key, retry=retry, timeout=TEST_TIMEOUT)
    ) as api:
        failures.append(await collect(api.get_project("cmp_missing")))
        set_faults(
            sandbox,
            {"path": "/story-projects", "method": "POST", "error_rate": 1.0, "times": 2},
            {"path": "/credits", "storm_429": True, "retry_after": 1, "times": 1},
            {"path": "/capabilities", "drop": True, "times": 1},
            {"path": "/story-jobs", "method": "POST", "drop": True},
            {"path": "/story-plans/*", "error_rate": 1.0, "status": 503},
        )
        await api.create_project({"name": "x"}, idempotency_key="k-secret")
        await api.get_credits()
        await api.get_capabilities(priority=Priority.POLL)
        failures.append(await collect(api.create_job({"storyPlanId": "cmpl_x"})))
        failures.append(await collect(api.get_plan("cmpl_x")))
        failures.append(await collect(api.create_project({"name": ""})))
        structlog.get_logger("test").error("failure", exc_info=failures[-2])
        structlog.get_logger("test").info("client", client=api, key=api.key)
        set_faults(sandbox)
        failures.append(await collect(api.request("GET", "story-jobs/x", priority=Priority.POLL)))
    failures.append(await collect(_parse_near_miss(sandbox_key)))

    kinds = {type(f) for f in failures}
    assert {se.ProjectNotFound, e.ApiTransportError, e.UpstreamUnavailable} <= kinds
    assert e.RequestValidationError in kinds and ValueError in kinds
    for failure in failures:
        for text in exception_texts(failure):
            assert secret not in text
    out = capsys.readouterr()
    logs = json_logs.getvalue()
    assert '"api.retry"' in logs  # the retries were logged at all
    for text in (logs, caplog.text, out.out, out.err, repr(api), str(api.key)):
        assert secret not in text
    assert all(secret not in repr(record.__dict__) for record in caplog.records)


async def _parse_near_miss(key: str) -> None:
    ApiKey.parse(key + "0")
