"""Retry policy, idempotency and rate pacing, observed in the sandbox's request log."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from bridge.http import errors as e
from bridge.http.ratelimit import Priority, RateBudget
from bridge.http.transport import RetryPolicy
from bridge.providers.story import errors as se
from bridge.providers.story.client import StoryClient, story_transport
from bridge.sandboxes.story import StorySandboxConfig
from tests.fixtures.client import TEST_TIMEOUT, request_log, set_faults

PROJECTS = "/story-projects"


def statuses(log: list[dict[str, Any]]) -> list[int]:
    return [entry["status"] for entry in log]


class TestIdempotency:
    async def test_same_key_same_body_is_replayed(self, story_client: StoryClient) -> None:
        """The second send with the same key replays the first answer."""
        first = await story_client.create_project({"name": "replay"}, idempotency_key="k-replay")
        second = await story_client.create_project({"name": "replay"}, idempotency_key="k-replay")
        assert (first.replayed, second.replayed) == (False, True)
        assert second.data.id == first.data.id

    async def test_same_key_other_body_is_a_conflict(
        self, story_client: StoryClient, sandbox: Any
    ) -> None:
        """Reusing a key for another body raises IdempotencyConflict with the request id."""
        await story_client.create_project({"name": "one"}, idempotency_key="k-conflict")
        with pytest.raises(e.IdempotencyConflict) as info:
            await story_client.create_project({"name": "two"}, idempotency_key="k-conflict")
        assert (info.value.code, info.value.status) == ("idempotency_conflict", 409)
        assert info.value.request_id == request_log(sandbox, PROJECTS)[-1]["requestId"]
        assert len(request_log(sandbox, PROJECTS)) == 2  # terminal: not retried


class TestRetries:
    async def test_500s_are_retried_with_the_same_key(
        self, story_client: StoryClient, sandbox: Any
    ) -> None:
        """Two injected 500s, then success: three attempts, one Idempotency-Key."""
        set_faults(sandbox, {"path": PROJECTS, "method": "POST", "error_rate": 1.0, "times": 2})
        resp = await story_client.create_project({"name": "x"}, idempotency_key="k-500")
        log = request_log(sandbox, PROJECTS)
        assert statuses(log) == [500, 500, 200]
        assert {entry["idempotencyKey"] for entry in log} == {"k-500"}
        assert resp.status == 200

    async def test_dropped_connections_are_retried_with_the_same_key(
        self, story_client: StoryClient, sandbox: Any
    ) -> None:
        """A connection dropped mid-response is ambiguous: retried with the same key."""
        set_faults(sandbox, {"path": PROJECTS, "method": "POST", "drop": True, "times": 1})
        await story_client.create_project({"name": "x"}, idempotency_key="k-drop")
        log = request_log(sandbox, PROJECTS)
        assert statuses(log) == [0, 200]
        assert [entry["idempotencyKey"] for entry in log] == ["k-drop", "k-drop"]

    async def test_a_hanging_get_times_out_and_is_retried(
        self, story_client: StoryClient, sandbox: Any
    ) -> None:
        """A read timeout on a GET is retried and the second attempt answers."""
        set_faults(sandbox, {"path": "/capabilities", "hang": True, "times": 1})
        resp = await story_client.get_capabilities()
        assert resp.status == 200
        assert statuses(request_log(sandbox, "/capabilities")) == [200]  # the hung one never ends

    async def test_terminal_4xx_is_never_retried(
        self, story_client: StoryClient, sandbox: Any
    ) -> None:
        """A 404 surfaces at once: the log shows one attempt."""
        with pytest.raises(se.ProjectNotFound):
            await story_client.get_project("cmp_missing")
        assert statuses(request_log(sandbox, f"{PROJECTS}/*")) == [404]

    async def test_injected_422_with_a_key_is_not_retried(
        self, story_client: StoryClient, sandbox: Any
    ) -> None:
        """Even an idempotent request is not retried on a definitive 4xx."""
        set_faults(sandbox, {"path": PROJECTS, "method": "POST", "error_rate": 1.0, "status": 422})
        with pytest.raises(e.ValidationFailed):
            await story_client.create_project({"name": "x"}, idempotency_key="k-422")
        assert statuses(request_log(sandbox, PROJECTS)) == [422]

    async def test_post_without_a_key_is_not_retried(
        self, story_client: StoryClient, sandbox: Any
    ) -> None:
        """Without Idempotency-Key a 500 might have created the project: no blind retry."""
        set_faults(sandbox, {"path": PROJECTS, "method": "POST", "error_rate": 1.0, "times": 1})
        with pytest.raises(e.ServerError) as info:
            await story_client.create_project({"name": "x"})
        assert info.value.status == 500 and info.value.retryable
        assert statuses(request_log(sandbox, PROJECTS)) == [500]

    async def test_exhausted_budget_raises_upstream_unavailable(
        self, sandbox: Any, sandbox_key: str
    ) -> None:
        """Persistent 503s end in UpstreamUnavailable carrying the last error."""
        set_faults(sandbox, {"path": "/capabilities", "error_rate": 1.0, "status": 503})
        retry = RetryPolicy(budget_seconds=0.3, base_delay=0.02, max_delay=0.05)
        async with StoryClient(story_transport(sandbox.base_url, sandbox_key, retry=retry)) as api:
            with pytest.raises(e.UpstreamUnavailable) as info:
                await api.get_capabilities()
        err = info.value
        assert err.code == "upstream_unavailable"
        assert isinstance(err.last, e.ServerError) and err.last.status == 503
        log = request_log(sandbox, "/capabilities")
        assert len(log) == err.attempts > 1
        assert err.to_dict()["requestId"] == log[-1]["requestId"]


class TestRateLimit:
    async def test_429_waits_retry_after_and_nothing_is_sent_meanwhile(
        self, story_client: StoryClient, sandbox: Any
    ) -> None:
        """After a 429 no request of any priority reaches the API before Retry-After elapsed."""
        set_faults(sandbox, {"path": "/credits", "storm_429": True, "retry_after": 1, "times": 1})
        credits = asyncio.create_task(story_client.get_credits())
        while story_client.transport.budget.blocks == 0:  # noqa: ASYNC110 - a counter, no event to await
            await asyncio.sleep(0.005)
        others = [
            asyncio.create_task(story_client.get_capabilities(priority=Priority.POLL)),
            asyncio.create_task(story_client.get_capabilities()),
        ]
        await asyncio.gather(credits, *others)
        log = request_log(sandbox)
        limited = next(entry for entry in log if entry["status"] == 429)
        after = [entry for entry in log if entry is not limited and entry["time"] > 0]
        assert len(after) == 3
        assert all(entry["time"] - limited["time"] >= 1.0 for entry in after)
        assert statuses([x for x in log if x["path"] == "/credits"]) == [429, 200]

    async def test_commands_are_served_before_polls_when_the_budget_is_tight(
        self, story_client: StoryClient, sandbox: Any
    ) -> None:
        """Polls queued first still go after commands queued later."""
        order: list[Priority] = []
        story_client.transport.budget.on_wait = lambda priority, _: order.append(priority)
        story_client.transport.budget.block_for(0.2)
        tasks = []
        for priority in [Priority.POLL] * 3 + [Priority.COMMAND] * 3:
            tasks.append(asyncio.create_task(story_client.get_capabilities(priority=priority)))
            await asyncio.sleep(0.01)
        await asyncio.gather(*tasks)
        assert order == [Priority.COMMAND] * 3 + [Priority.POLL] * 3
        assert len(request_log(sandbox, "/capabilities")) == 6


class TestServerPacing:
    @pytest.fixture
    def sandbox_config(self) -> StorySandboxConfig:
        return StorySandboxConfig(speed=100.0, rate_limit_per_minute=5)

    async def test_polls_hold_back_when_only_the_reserve_remains(
        self, sandbox: Any, sandbox_key: str
    ) -> None:
        """With RateLimit-Remaining at the reserve, a command goes and a poll waits."""
        budget = RateBudget(per_minute=1000, reserve=1)
        async with StoryClient(
            story_transport(sandbox.base_url, sandbox_key, budget=budget, timeout=TEST_TIMEOUT)
        ) as api:
            for _ in range(3):
                await api.get_capabilities()  # remaining: 4, 3, 2
            await api.get_credits()  # remaining: 1 == reserve
            poll = asyncio.create_task(api.get_project("cmp_x", priority=Priority.POLL))
            await api.get_capabilities()  # a command may use the reserve
            await asyncio.sleep(0.05)
            assert not poll.done() and budget.waiting[Priority.POLL] == 1
            poll.cancel()
            with pytest.raises(asyncio.CancelledError):
                await poll
        assert request_log(sandbox, "/story-projects/*") == []
        assert len(request_log(sandbox, "/capabilities")) == 4


def test_the_client_rejects_a_malformed_key() -> None:
    """The key format is checked before any request, naming the format."""
    with pytest.raises(ValueError, match="sh_<18 hex>_<64 hex>"):
        StoryClient(story_transport("http://127.0.0.1:1/api/v1", "sh_123_456"))


async def test_the_user_agent_names_storybridge(sandbox: Any, sandbox_key: str) -> None:
    """Requests identify themselves as storybridge/<version>."""
    seen: list[str] = []

    async def hook(request: httpx.Request) -> None:
        seen.append(request.headers["user-agent"])

    async with StoryClient(story_transport(sandbox.base_url, sandbox_key)) as api:
        api._transport._http.event_hooks["request"].append(hook)
        await api.get_capabilities()
    assert seen and seen[0].startswith("storybridge/")
