"""Injected faults over real HTTP: seeded error rates repeat, drops, hangs, latency, 429 storms."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from bridge.sandboxes.story import FaultRule, StorySandboxConfig, StorySandboxServer
from tests.fixtures.sandbox import SandboxApi, any_key


@pytest.fixture
def sandbox_config() -> StorySandboxConfig:
    return StorySandboxConfig(manual_clock=True, rate_limit_per_minute=100_000)


def set_faults(sandbox: StorySandboxServer, *rules: dict[str, Any]) -> None:
    sandbox.control.put("/faults", json=list(rules)).raise_for_status()


def statuses(api: SandboxApi, path: str, n: int) -> list[int]:
    return [api.get(path).status_code for _ in range(n)]


def logged(sandbox: StorySandboxServer, path: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = sandbox.control.get("/requests", params={"path": path}).json()[
        "requests"
    ]
    return entries


class TestErrorRate:
    def test_a_seeded_error_rate_repeats_across_sandboxes(self) -> None:
        """Two sandboxes with the same seed fail the same requests; another seed differs."""
        rule = FaultRule(path="/capabilities", error_rate=0.5)

        def run(seed: int) -> list[int]:
            config = StorySandboxConfig(seed=seed, faults=[rule], rate_limit_per_minute=1000)
            with StorySandboxServer(config) as sandbox:
                api = SandboxApi(sandbox, any_key())
                try:
                    return statuses(api, "/capabilities", 30)
                finally:
                    api.close()

        first, second, other = run(7), run(7), run(8)
        assert first == second
        assert set(first) == {200, 500}
        assert other != first

    def test_replacing_the_rules_reseeds(
        self, sandbox: StorySandboxServer, sandbox_api: SandboxApi
    ) -> None:
        """PUT /faults twice with the same rule gives the same sequence again."""
        rule = {"path": "/capabilities", "error_rate": 0.3}
        set_faults(sandbox, rule)
        first = statuses(sandbox_api, "/capabilities", 20)
        set_faults(sandbox, rule)
        assert statuses(sandbox_api, "/capabilities", 20) == first
        assert 500 in first

    def test_injected_error_is_the_documented_envelope(
        self, sandbox: StorySandboxServer, sandbox_api: SandboxApi
    ) -> None:
        """A 503 fault answers internal_error in the envelope, X-Request-Id and rate headers on."""
        set_faults(sandbox, {"path": "/credits", "status": 503})
        response = sandbox_api.get("/credits")
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "internal_error"
        assert response.json()["error"]["requestId"] == response.headers["X-Request-Id"]
        assert "RateLimit-Remaining" in response.headers

    def test_times_limits_how_often_a_rule_fires(
        self, sandbox: StorySandboxServer, sandbox_api: SandboxApi
    ) -> None:
        """times=2: two 500s, then the endpoint answers normally."""
        set_faults(sandbox, {"path": "/capabilities", "error_rate": 1.0, "times": 2})
        assert statuses(sandbox_api, "/capabilities", 4) == [500, 500, 200, 200]

    def test_method_and_regex_paths_select_requests(
        self, sandbox: StorySandboxServer, sandbox_api: SandboxApi
    ) -> None:
        """A POST-only regex rule hits POST /story-projects, not GET, not /story-projects/{id}."""
        set_faults(sandbox, {"path": "^/story-projects$", "method": "post", "status": 500})
        assert sandbox_api.get("/story-projects").status_code == 200
        assert sandbox_api.post("/story-projects", {"name": "x"}).status_code == 500
        assert sandbox_api.get("/story-projects/cmp_x").status_code == 404

    def test_storm_429_carries_the_configured_retry_after(
        self, sandbox: StorySandboxServer, sandbox_api: SandboxApi
    ) -> None:
        """storm_429 with retry_after=7: 429 rate_limited and Retry-After: 7."""
        set_faults(sandbox, {"path": "/capabilities", "storm_429": True, "retry_after": 7})
        response = sandbox_api.get("/capabilities")
        assert response.status_code == 429
        assert response.json()["error"]["code"] == "rate_limited"
        assert response.headers["Retry-After"] == "7"

    def test_faults_from_config_apply_from_the_start(self) -> None:
        """Rules given in StorySandboxConfig.faults are in force before any control call."""
        config = StorySandboxConfig(faults=[FaultRule(path="/credits", status=502)])
        with StorySandboxServer(config) as sandbox:
            api = SandboxApi(sandbox, any_key())
            try:
                assert api.get("/credits").status_code == 502
            finally:
                api.close()


class TestConnectionFaults:
    def test_drop_closes_the_connection_before_any_effect(
        self, sandbox: StorySandboxServer, sandbox_api: SandboxApi
    ) -> None:
        """httpx sees a protocol error, the log shows status 0, and no project was created."""
        set_faults(sandbox, {"path": "/story-projects", "method": "POST", "drop": True, "times": 1})
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            sandbox_api.post("/story-projects", {"name": "x"}, key="d1")
        assert [e["status"] for e in logged(sandbox, "/story-projects")] == [0]
        assert sandbox_api.get("/story-projects").json()["projects"] == []

    def test_drop_after_loses_the_answer_but_keeps_the_effect(
        self, sandbox: StorySandboxServer, sandbox_api: SandboxApi
    ) -> None:
        """The project exists; the retry with the same key replays it instead of making another."""
        rule = {"path": "/story-projects", "method": "POST", "drop_after": True, "times": 1}
        set_faults(sandbox, rule)
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            sandbox_api.post("/story-projects", {"name": "x"}, key="d2")
        retry = sandbox_api.post("/story-projects", {"name": "x"}, key="d2")
        assert retry.headers["Idempotency-Replayed"] == "true"
        assert len(sandbox_api.get("/story-projects").json()["projects"]) == 1

    def test_hang_after_keeps_the_effect_and_never_answers(
        self, sandbox: StorySandboxServer, sandbox_api: SandboxApi
    ) -> None:
        """The client times out not knowing; the project exists and the log says hang_after."""
        rule = {"path": "/story-projects", "method": "POST", "hang_after": True, "times": 1}
        set_faults(sandbox, rule)
        with pytest.raises(httpx.ReadTimeout):
            sandbox_api.http.post(
                "/story-projects",
                json={"name": "hung"},
                headers={"Idempotency-Key": "hung-1"},
                timeout=0.3,
            )
        entry = logged(sandbox, "/story-projects")[-1]
        assert (entry["status"], entry["fault"]) == (0, "hang_after")
        names = [p["name"] for p in sandbox_api.get("/story-projects").json()["projects"]]
        assert names == ["hung"]

    def test_hang_never_answers_until_the_client_gives_up(
        self, sandbox: StorySandboxServer, sandbox_api: SandboxApi
    ) -> None:
        """A hung request times out on the client; the next one (times=1) answers."""
        set_faults(sandbox, {"path": "/capabilities", "hang": True, "times": 1})
        with pytest.raises(httpx.ReadTimeout):
            sandbox_api.http.get("/capabilities", timeout=0.3)
        assert sandbox_api.get("/capabilities").status_code == 200

    def test_latency_delays_the_answer(
        self, sandbox: StorySandboxServer, sandbox_api: SandboxApi
    ) -> None:
        """latency_ms=300: the answer comes no sooner than 0.3 s, and is logged as a latency fault."""
        set_faults(sandbox, {"path": "/capabilities", "latency_ms": 300})
        started = time.monotonic()
        response = sandbox_api.get("/capabilities")
        assert time.monotonic() - started >= 0.3
        assert response.status_code == 200
        assert logged(sandbox, "/capabilities")[-1]["fault"] == "latency"

    def test_respond_latency_applies_the_effect_before_answering(
        self, sandbox: StorySandboxServer, sandbox_api: SandboxApi
    ) -> None:
        """A client that gives up during respond_latency_ms still finds the project created."""
        set_faults(
            sandbox, {"path": "/story-projects", "method": "POST", "respond_latency_ms": 2000}
        )
        with pytest.raises(httpx.ReadTimeout):
            sandbox_api.http.post(
                "/story-projects",
                json={"name": "slow"},
                headers={"Idempotency-Key": "slow-1"},
                timeout=0.3,
            )
        sandbox.control.delete("/faults").raise_for_status()
        names = [p["name"] for p in sandbox_api.get("/story-projects").json()["projects"]]
        assert names == ["slow"]
