"""The sandbox's cross-cutting rules over real HTTP: ids, rate limits, idempotency, auth, the log."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from bridge.sandboxes.kit.ratewindow import FixedWindows
from bridge.sandboxes.story import StorySandboxConfig, StorySandboxServer
from bridge.sandboxes.story.errors import StorySandboxError
from bridge.sandboxes.story.ratelimit import StoryRateLimiter
from tests.fixtures.requestlog import requests_of
from tests.fixtures.sandbox import SandboxApi, any_key

LIMIT = 5


@pytest.fixture
def sandbox_config() -> StorySandboxConfig:
    return StorySandboxConfig(manual_clock=True, rate_limit_per_minute=1000)


@pytest.fixture
def tight_config() -> StorySandboxConfig:
    return StorySandboxConfig(manual_clock=True, rate_limit_per_minute=LIMIT)


def raw_get(sandbox: StorySandboxServer, path: str, key: str) -> httpx.Response:
    return httpx.get(sandbox.base_url + path, headers={"Authorization": f"Bearer {key}"})


class TestResponseHeaders:
    @pytest.fixture
    def sandbox_config(self, tight_config: StorySandboxConfig) -> StorySandboxConfig:
        return tight_config

    def test_every_response_has_a_fresh_request_id(self, sandbox_api: SandboxApi) -> None:
        """Success and error both carry X-Request-Id, a new UUID each time."""
        ok = sandbox_api.get("/capabilities")
        missing = sandbox_api.get("/story-projects/cmp_nope")
        ids = {ok.headers["X-Request-Id"], missing.headers["X-Request-Id"]}
        assert len(ids) == 2
        for value in ids:
            uuid.UUID(value)
        assert missing.json()["error"]["requestId"] == missing.headers["X-Request-Id"]

    def test_public_and_unauthenticated_responses_have_rate_headers(
        self, sandbox: StorySandboxServer
    ) -> None:
        """openapi.json (no auth) and a 401 still report RateLimit-* (counted per IP)."""
        for response in (
            httpx.get(sandbox.base_url + "/openapi.json"),
            httpx.get(sandbox.base_url + "/capabilities"),
        ):
            assert response.headers["RateLimit-Limit"] == str(LIMIT)
            assert "RateLimit-Remaining" in response.headers
            assert "X-Request-Id" in response.headers


class TestRateLimit:
    @pytest.fixture
    def sandbox_config(self, tight_config: StorySandboxConfig) -> StorySandboxConfig:
        return tight_config

    def test_remaining_counts_down_then_429_with_exact_retry_after(
        self, sandbox: StorySandboxServer
    ) -> None:
        """LIMIT requests pass counting down; the next is 429 with Retry-After = RateLimit-Reset."""
        key = any_key()
        remaining = [
            int(raw_get(sandbox, "/capabilities", key).headers["RateLimit-Remaining"])
            for _ in range(LIMIT)
        ]
        assert remaining == list(range(LIMIT - 1, -1, -1))
        limited = raw_get(sandbox, "/capabilities", key)
        assert limited.status_code == 429
        assert limited.json()["error"]["code"] == "rate_limited"
        retry_after = limited.headers["Retry-After"]
        assert retry_after.isdigit() and 1 <= int(retry_after) <= 60
        assert retry_after == limited.headers["RateLimit-Reset"]
        assert limited.headers["RateLimit-Remaining"] == "0"

    def test_windows_are_per_key(self, sandbox: StorySandboxServer) -> None:
        """One key exhausting its window does not limit another key."""
        first, second = any_key(), any_key()
        for _ in range(LIMIT + 1):
            raw_get(sandbox, "/capabilities", first)
        assert raw_get(sandbox, "/capabilities", first).status_code == 429
        assert raw_get(sandbox, "/capabilities", second).status_code == 200

    def test_control_can_restart_the_windows(self, sandbox: StorySandboxServer) -> None:
        """DELETE /_sandbox/ratelimit lets an exhausted key through again."""
        key = any_key()
        for _ in range(LIMIT + 1):
            raw_get(sandbox, "/capabilities", key)
        sandbox.control.delete("/ratelimit").raise_for_status()
        assert raw_get(sandbox, "/capabilities", key).status_code == 200


class TestRateLimiterWindow:
    def test_waiting_exactly_retry_after_is_enough(self) -> None:
        """After the announced Retry-After (on the limiter's own clock) the next take succeeds."""
        now = [1000.0]
        limiter = StoryRateLimiter(FixedWindows(2, 60.0, now=lambda: now[0]))
        limiter.take("k")
        now[0] += 17.4
        limiter.take("k")
        with pytest.raises(StorySandboxError) as info:
            limiter.take("k")
        retry_after = int(info.value.headers["Retry-After"])
        assert retry_after == 43  # ceil(60 - 17.4)
        now[0] += retry_after
        assert limiter.take("k")["RateLimit-Remaining"] == "1"


class TestIdempotency:
    def test_same_key_same_body_replays_without_a_second_effect(
        self, sandbox_api: SandboxApi
    ) -> None:
        """The retry returns the stored answer with Idempotency-Replayed: true; one project exists."""
        first = sandbox_api.post("/story-projects", {"name": "once"}, key="k1")
        again = sandbox_api.post("/story-projects", {"name": "once"}, key="k1")
        assert again.json() == first.json()
        assert again.headers["Idempotency-Replayed"] == "true"
        assert "Idempotency-Replayed" not in first.headers
        assert again.headers["X-Request-Id"] != first.headers["X-Request-Id"]
        assert len(sandbox_api.get("/story-projects").json()["projects"]) == 1

    def test_body_key_order_does_not_count_as_a_change(self, sandbox_api: SandboxApi) -> None:
        """The fingerprint is over the parsed JSON, so reordered keys still replay."""
        headers = {"Idempotency-Key": "k-order", "Content-Type": "application/json"}
        first = sandbox_api.http.post(
            "/story-projects",
            content=json.dumps({"name": "n", "description": "d"}),
            headers=headers,
        )
        again = sandbox_api.http.post(
            "/story-projects",
            content=json.dumps({"description": "d", "name": "n"}),
            headers=headers,
        )
        assert (first.status_code, again.headers.get("Idempotency-Replayed")) == (200, "true")

    def test_same_key_other_body_is_a_conflict(self, sandbox_api: SandboxApi) -> None:
        """409 idempotency_conflict, and nothing new is created."""
        sandbox_api.post("/story-projects", {"name": "a"}, key="k2")
        conflict = sandbox_api.post("/story-projects", {"name": "b"}, key="k2")
        assert (conflict.status_code, conflict.json()["error"]["code"]) == (
            409,
            "idempotency_conflict",
        )
        assert [p["name"] for p in sandbox_api.get("/story-projects").json()["projects"]] == ["a"]

    def test_keys_are_scoped_per_api_key(
        self, sandbox: StorySandboxServer, sandbox_api: SandboxApi
    ) -> None:
        """Another API key reusing the same Idempotency-Key gets its own, new project."""
        other = SandboxApi(sandbox, any_key())
        try:
            mine = sandbox_api.post("/story-projects", {"name": "x"}, key="shared")
            theirs = other.post("/story-projects", {"name": "x"}, key="shared")
        finally:
            other.close()
        assert "Idempotency-Replayed" not in theirs.headers
        assert theirs.json()["project"]["id"] != mine.json()["project"]["id"]

    def test_errors_are_not_stored_so_the_same_key_can_succeed_later(
        self, sandbox: StorySandboxServer, sandbox_api: SandboxApi
    ) -> None:
        """402 with key K, credits added, K again: a real 200, not a replayed 402."""
        _, plan_id = sandbox_api.approved_plan()
        sandbox.control.put("/credits", json={"balance": 0}).raise_for_status()
        poor = sandbox_api.post("/story-jobs", {"storyPlanId": plan_id}, key="job-1")
        assert poor.status_code == 402
        sandbox.control.put("/credits", json={"balance": 100}).raise_for_status()
        rich = sandbox_api.post("/story-jobs", {"storyPlanId": plan_id}, key="job-1")
        assert rich.status_code == 200
        assert "Idempotency-Replayed" not in rich.headers

    @pytest.mark.parametrize(
        "path",
        [
            "/story-projects",
            "/story-projects/cmp_x/story-plans",
            "/story-projects/cmp_x/series-bible",
            "/story-jobs",
            "/artifacts/cma_x/refine",
            "/artifacts/cma_x/finalize",
            "/artifacts/cma_x/render-video",
            "/artifacts/cma_x/voice",
            "/artifacts/cma_x/coverage",
            "/artifacts/cma_x/sfx",
            "/artifacts/cma_x/cast",
            "/artifacts/cma_x/avatar",
            "/artifacts/cma_x/voice-modification",
        ],
    )
    def test_paid_or_queued_posts_require_a_key(self, sandbox_api: SandboxApi, path: str) -> None:
        """Without Idempotency-Key these POSTs are 422 idempotency_key_required."""
        response = sandbox_api.post(path, {}, key=None)
        assert (response.status_code, response.json()["error"]["code"]) == (
            422,
            "idempotency_key_required",
        )

    def test_optional_endpoints_work_without_a_key(self, sandbox_api: SandboxApi) -> None:
        """Sources POST, approve, reject, cancel, music, PATCH and DELETE accept no key."""
        project_id = sandbox_api.project()
        body = {"type": "text", "content": "hello"}
        source = sandbox_api.post(f"/story-projects/{project_id}/sources", body, key=None)
        plan_id = sandbox_api.plan(project_id)["id"]
        reject = sandbox_api.post(f"/story-plans/{plan_id}/reject", key=None)
        patch = sandbox_api.http.patch(f"/story-projects/{project_id}", json={"name": "new"})
        delete = sandbox_api.http.delete(f"/story-projects/{project_id}")
        statuses = [r.status_code for r in (source, reject, patch, delete)]
        assert statuses == [200, 200, 200, 200]


class TestAuth:
    def test_scope_is_checked_per_route(self, sandbox: StorySandboxServer) -> None:
        """A story:read key reads projects but cannot create one (403 naming story:write)."""
        key = sandbox.control.post("/keys", json={"scopes": ["story:read"]}).json()["key"]
        headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": "k"}
        assert httpx.get(sandbox.base_url + "/story-projects", headers=headers).status_code == 200
        denied = httpx.post(
            sandbox.base_url + "/story-projects", json={"name": "x"}, headers=headers
        )
        assert denied.status_code == 403
        assert denied.json()["error"]["details"] == {"requiredScope": "story:write"}

    def test_allowlisted_ip_passes(self, sandbox: StorySandboxServer) -> None:
        """A key allowing 127.0.0.1 works from loopback."""
        key = sandbox.control.post("/keys", json={"allowedIps": ["127.0.0.1"]}).json()["key"]
        assert raw_get(sandbox, "/capabilities", key).status_code == 200

    def test_the_secret_never_reaches_the_request_log(
        self, sandbox: StorySandboxServer, sandbox_key: str, sandbox_api: SandboxApi
    ) -> None:
        """The log keeps method, path and keys of idempotency, never the Authorization secret."""
        sandbox_api.post("/story-projects", {"name": "x"}, key="idem-1")
        log = sandbox.control.get("/requests").text
        assert sandbox_key.rsplit("_", 1)[1] not in log
        assert "idem-1" in log


class TestOnlyMintedKeys:
    @pytest.fixture
    def sandbox_config(self) -> StorySandboxConfig:
        return StorySandboxConfig(manual_clock=True, accept_any_key=False)

    def test_unknown_well_formed_key_is_invalid(self, sandbox: StorySandboxServer) -> None:
        """With accept_any_key off a made-up key is 401 invalid_api_key, a minted one works."""
        made_up = raw_get(sandbox, "/capabilities", any_key())
        assert made_up.json()["error"]["code"] == "invalid_api_key"
        key = sandbox.control.post("/keys", json={}).json()["key"]
        assert raw_get(sandbox, "/capabilities", key).status_code == 200


class TestRequestLog:
    def test_log_records_each_request_and_filters_by_path(
        self, sandbox: StorySandboxServer, sandbox_api: SandboxApi
    ) -> None:
        """Entries carry method, path, query, key, status and replay; ?path= filters; DELETE clears."""
        sandbox_api.post("/story-projects", {"name": "x"}, key="log-1")
        sandbox_api.post("/story-projects", {"name": "x"}, key="log-1")
        sandbox_api.get("/story-projects", limit=5)
        entries = sandbox.control.get("/requests", params={"path": "/story-projects"}).json()
        rows = [
            (e["method"], e["query"], e["idempotencyKey"], e["status"], e["replayed"])
            for e in entries["requests"]
        ]
        assert rows == [
            ("POST", "", "log-1", 200, False),
            ("POST", "", "log-1", 200, True),
            ("GET", "limit=5", None, 200, False),
        ]
        sandbox.control.delete("/requests").raise_for_status()
        assert requests_of(sandbox) == []


class TestEdges:
    def test_unknown_route_is_a_logged_404_envelope(
        self, sandbox: StorySandboxServer, sandbox_api: SandboxApi
    ) -> None:
        """A path the API does not have: 404 not_found in the envelope, with a request id."""
        response = sandbox_api.http.delete("/no-such-thing")
        assert response.status_code == 404
        assert response.json()["error"]["requestId"] == response.headers["X-Request-Id"]
        logged = sandbox.control.get("/requests", params={"path": "/no-such-thing"}).json()
        assert [e["status"] for e in logged["requests"]] == [404]

    def test_invalid_json_body_is_validation_failed(self, sandbox_api: SandboxApi) -> None:
        """A body that is not JSON is 422 validation_failed naming the body."""
        response = sandbox_api.http.post(
            "/story-projects", content=b"{nope", headers={"Idempotency-Key": "bad-json"}
        )
        assert response.status_code == 422
        assert response.json()["error"]["message"].startswith("body")

    def test_control_rejects_a_bad_fault_rule(self, sandbox: StorySandboxServer) -> None:
        """PUT /faults with an invalid rule is refused and the rules in force stay."""
        sandbox.control.put("/faults", json=[{"path": "/credits", "status": 503}])
        refused = sandbox.control.put("/faults", json=[{"error_rate": 2}])
        assert refused.status_code == 422
        assert sandbox.control.get("/faults").json()["faults"][0]["status"] == 503
