"""The Syllaby sandbox's limits, repeats, faults and control API, over real HTTP: 30 requests a
minute per token with an epoch reset, no idempotency, faults before and after the effect."""

from __future__ import annotations

import math
import time
from typing import Any

import httpx
import pytest

from bridge.sandboxes.syllaby import FaultRule, SyllabySandboxConfig, SyllabySandboxServer
from tests.fixtures.syllaby_sandbox import PROMPT, RENDERED, SyllabyApi, any_token


@pytest.fixture
def syllaby_sandbox_config() -> SyllabySandboxConfig:
    return SyllabySandboxConfig(manual_clock=True, rate_limit_per_minute=100_000)


def set_faults(sandbox: SyllabySandboxServer, *rules: dict[str, Any]) -> None:
    sandbox.control.put("/faults", json=list(rules)).raise_for_status()


def charges(api: SyllabyApi, action: str) -> list[dict[str, Any]]:
    return [c for c in api.state()["account"]["charges"] if c["action"] == action]


class TestRateLimit:
    @pytest.fixture
    def syllaby_sandbox_config(self) -> SyllabySandboxConfig:
        return SyllabySandboxConfig(manual_clock=True)  # the API's default: 30 a minute

    def test_success_carries_limit_and_remaining(self, syllaby_api: SyllabyApi) -> None:
        first = syllaby_api.post("/text-to-scene", {"title": "T", "mode": "manual"})
        second = syllaby_api.get(f"/text-to-scene/{first.json()['data']['id']}")
        assert first.headers["X-RateLimit-Limit"] == "30"
        assert first.headers["X-RateLimit-Remaining"] == "29"
        assert second.headers["X-RateLimit-Remaining"] == "28"
        assert "X-RateLimit-Reset" not in second.headers and "Retry-After" not in second.headers

    def test_the_31st_request_is_429_with_retry_after_and_an_epoch_reset(
        self, syllaby_api: SyllabyApi
    ) -> None:
        for _ in range(30):
            assert syllaby_api.get("/text-to-scene/1").status_code == 404
        before = time.time()
        response = syllaby_api.get("/text-to-scene/1")
        assert response.status_code == 429
        assert response.json() == {"message": "Too Many Attempts.", "status": 429}
        retry_after = int(response.headers["Retry-After"])
        assert 1 <= retry_after <= 60
        reset = int(response.headers["X-RateLimit-Reset"])
        # A Unix timestamp about Retry-After from now, not a number of seconds.
        assert math.floor(before) + retry_after <= reset <= math.ceil(time.time()) + retry_after
        assert response.headers["X-RateLimit-Remaining"] == "0"

    def test_each_token_has_its_own_window(
        self, syllaby_sandbox: SyllabySandboxServer, syllaby_api: SyllabyApi
    ) -> None:
        for _ in range(31):
            syllaby_api.get("/text-to-scene/1")
        other = httpx.get(
            f"{syllaby_sandbox.base_url}/text-to-scene/1",
            headers={"Authorization": f"Bearer {any_token()}"},
        )
        assert other.status_code == 404
        assert other.headers["X-RateLimit-Remaining"] == "29"

    def test_control_restarts_the_windows(
        self, syllaby_sandbox: SyllabySandboxServer, syllaby_api: SyllabyApi
    ) -> None:
        for _ in range(31):
            syllaby_api.get("/text-to-scene/1")
        syllaby_sandbox.control.delete("/ratelimit").raise_for_status()
        assert syllaby_api.get("/text-to-scene/1").status_code == 404


class TestNoIdempotency:
    def test_the_same_create_twice_makes_two_storyboards(self, syllaby_api: SyllabyApi) -> None:
        body = {"title": "Same", "mode": "wizard"}
        first = syllaby_api.data(syllaby_api.post("/text-to-scene", body), 201)
        second = syllaby_api.data(syllaby_api.post("/text-to-scene", body), 201)
        assert first["id"] != second["id"]
        assert len(syllaby_api.state()["storyboards"]) == 2

    def test_the_same_prompt_twice_charges_twice_and_restarts(
        self, syllaby_api: SyllabyApi
    ) -> None:
        storyboard_id = syllaby_api.storyboard()
        for _ in range(2):
            assert (
                syllaby_api.post(f"/text-to-scene/{storyboard_id}/prompt", PROMPT).status_code
                == 202
            )
        assert len(charges(syllaby_api, "prompt")) == 2
        assert syllaby_api.state()["storyboards"][0]["generations"] == 2

    def test_the_same_clips_twice_charge_twice_and_queue_again(
        self, syllaby_api: SyllabyApi
    ) -> None:
        board = syllaby_api.generated()
        syllaby_api.clips(board)
        syllaby_api.advance(2)
        again = syllaby_api.clips(board)
        assert {s["status"] for s in again} == {"clip:queued"}
        assert len(charges(syllaby_api, "clips")) == 2
        runs = {s["clip_runs"] for s in syllaby_api.state()["storyboards"][0]["scene_details"]}
        assert runs == {2}

    def test_a_second_render_after_the_first_renders_and_charges_again(
        self, syllaby_api: SyllabyApi
    ) -> None:
        board = syllaby_api.with_clips()
        render = f"/text-to-scene/{board['id']}/render"
        assert syllaby_api.post(render).status_code == 202
        syllaby_api.advance(RENDERED)
        first_url = syllaby_api.read(board["id"])["video"]["url"]
        assert syllaby_api.post(render).status_code == 202
        assert syllaby_api.read(board["id"])["video"]["url"] is None
        syllaby_api.advance(RENDERED)
        assert syllaby_api.read(board["id"])["video"]["url"] not in (None, first_url)
        assert syllaby_api.state()["storyboards"][0]["renders"] == 2
        assert len(charges(syllaby_api, "render")) == 2


class TestFaults:
    def test_hang_after_applies_the_render_and_never_answers(
        self, syllaby_sandbox: SyllabySandboxServer, syllaby_api: SyllabyApi
    ) -> None:
        """The case the ledger exists for: the client times out, the render and its charge stand."""
        board = syllaby_api.with_clips()
        set_faults(syllaby_sandbox, {"path": "^/text-to-scene/\\d+/render$", "hang_after": True})
        with pytest.raises(httpx.ReadTimeout):
            syllaby_api.http.post(f"/text-to-scene/{board['id']}/render", timeout=0.5)
        assert syllaby_api.state()["storyboards"][0]["renders"] == 1
        assert len(charges(syllaby_api, "render")) == 1
        assert syllaby_api.read(board["id"])["status"] == "processing"
        logged = syllaby_api.logged("/text-to-scene/*/render", method="POST")
        assert [(e["status"], e["fault"]) for e in logged] == [(0, "hang_after")]

    def test_hang_before_has_no_effect(
        self, syllaby_sandbox: SyllabySandboxServer, syllaby_api: SyllabyApi
    ) -> None:
        board = syllaby_api.with_clips()
        set_faults(syllaby_sandbox, {"path": "/text-to-scene/*/render", "hang": True})
        with pytest.raises(httpx.ReadTimeout):
            syllaby_api.http.post(f"/text-to-scene/{board['id']}/render", timeout=0.5)
        assert syllaby_api.state()["storyboards"][0]["renders"] == 0
        assert charges(syllaby_api, "render") == []
        assert [e["fault"] for e in syllaby_api.logged("/text-to-scene/*/render")] == ["hang"]

    def test_drop_after_creates_and_loses_the_answer(
        self, syllaby_sandbox: SyllabySandboxServer, syllaby_api: SyllabyApi
    ) -> None:
        set_faults(
            syllaby_sandbox, {"path": "/text-to-scene", "method": "POST", "drop_after": True}
        )
        with pytest.raises(httpx.RemoteProtocolError):
            syllaby_api.post("/text-to-scene", {"title": "T", "mode": "wizard"})
        assert len(syllaby_api.state()["storyboards"]) == 1

    def test_drop_before_creates_nothing(
        self, syllaby_sandbox: SyllabySandboxServer, syllaby_api: SyllabyApi
    ) -> None:
        set_faults(syllaby_sandbox, {"path": "/text-to-scene", "method": "POST", "drop": True})
        with pytest.raises(httpx.RemoteProtocolError):
            syllaby_api.post("/text-to-scene", {"title": "T", "mode": "wizard"})
        assert syllaby_api.state()["storyboards"] == []

    def test_a_429_storm_looks_like_the_real_limit_then_stops(
        self, syllaby_sandbox: SyllabySandboxServer, syllaby_api: SyllabyApi
    ) -> None:
        set_faults(syllaby_sandbox, {"path": "*", "storm_429": True, "retry_after": 7, "times": 2})
        before = time.time()
        stormed = [syllaby_api.get("/text-to-scene/1") for _ in range(2)]
        for response in stormed:
            assert response.status_code == 429
            assert response.headers["Retry-After"] == "7"
            reset = int(response.headers["X-RateLimit-Reset"])
            assert math.floor(before) + 7 <= reset <= math.ceil(time.time()) + 7
        assert syllaby_api.get("/text-to-scene/1").status_code == 404
        assert [e["fault"] for e in syllaby_api.logged("/text-to-scene/1")][:2] == ["storm_429"] * 2

    def test_an_injected_503_is_the_api_error_body(
        self, syllaby_sandbox: SyllabySandboxServer, syllaby_api: SyllabyApi
    ) -> None:
        set_faults(syllaby_sandbox, {"path": "/text-to-scene", "status": 503})
        response = syllaby_api.post("/text-to-scene", {"title": "T", "mode": "wizard"})
        assert response.status_code == 503
        assert response.json() == {"message": "Service Unavailable.", "status": 503}
        assert syllaby_api.state()["storyboards"] == []

    def test_an_injected_403_with_the_subscription_code_is_the_gate(
        self, syllaby_sandbox: SyllabySandboxServer, syllaby_api: SyllabyApi
    ) -> None:
        set_faults(
            syllaby_sandbox,
            {"path": "*", "status": 403, "code": "SUBSCRIPTION-REQUIRED", "times": 1},
        )
        response = syllaby_api.get("/text-to-scene/1")
        assert response.json()["code"] == "SUBSCRIPTION-REQUIRED"
        assert syllaby_api.get("/text-to-scene/1").status_code == 404

    def test_a_bare_error_has_no_body(
        self, syllaby_sandbox: SyllabySandboxServer, syllaby_api: SyllabyApi
    ) -> None:
        set_faults(syllaby_sandbox, {"path": "*", "status": 502, "bare": True})
        response = syllaby_api.get("/text-to-scene/1")
        assert response.status_code == 502 and response.content == b""

    def test_a_seeded_error_rate_repeats(self) -> None:
        rule = FaultRule(path="/text-to-scene/*", error_rate=0.5)

        def run(seed: int) -> list[int]:
            config = SyllabySandboxConfig(seed=seed, faults=[rule], rate_limit_per_minute=1000)
            with SyllabySandboxServer(config) as sandbox:
                api = SyllabyApi(sandbox, any_token())
                try:
                    return [api.get("/text-to-scene/1").status_code for _ in range(30)]
                finally:
                    api.close()

        first, second, other = run(7), run(7), run(8)
        assert first == second and set(first) == {404, 500}
        assert other != first


class TestControl:
    def test_the_request_log_counts_posts_per_path(self, syllaby_api: SyllabyApi) -> None:
        board = syllaby_api.with_clips()
        syllaby_api.post(f"/text-to-scene/{board['id']}/render")
        renders = syllaby_api.logged(f"/text-to-scene/{board['id']}/render", method="POST")
        assert [(e["method"], e["status"]) for e in renders] == [("POST", 202)]
        assert len(syllaby_api.logged("/text-to-scene/*/clips", method="POST")) == 1
        assert all(e["path"].startswith("/text-to-scene") for e in syllaby_api.logged("*"))
        syllaby_api.sandbox.control.delete("/requests").raise_for_status()
        assert syllaby_api.logged("*") == []

    def test_reset_gives_a_fresh_world(
        self, syllaby_sandbox: SyllabySandboxServer, syllaby_api: SyllabyApi
    ) -> None:
        syllaby_api.generated()
        syllaby_sandbox.control.post("/reset").raise_for_status()
        state = syllaby_api.state()
        assert state["storyboards"] == [] and state["account"]["charges"] == []
        assert syllaby_api.storyboard() == 1

    def test_faults_and_clock_read_back(self, syllaby_sandbox: SyllabySandboxServer) -> None:
        set_faults(syllaby_sandbox, {"path": "/x", "hang_after": True})
        assert syllaby_sandbox.control.get("/faults").json()["faults"][0]["hang_after"] is True
        assert (
            syllaby_sandbox.control.post("/clock/advance", json={"seconds": 5}).json()["now"] == 5
        )
        refused = syllaby_sandbox.control.post("/clock/advance", json={"seconds": -1})
        assert refused.status_code == 422

    def test_a_status_the_reference_does_not_list_can_be_set(
        self, syllaby_sandbox: SyllabySandboxServer, syllaby_api: SyllabyApi
    ) -> None:
        """For the bridge's "publish what you have never seen": the API answers it as set."""
        board = syllaby_api.generated()
        scene_id = board["scenes"][0]["id"]
        control = syllaby_sandbox.control
        control.put(
            f"/storyboards/{board['id']}",
            json={"status": "generating:subjects", "video_status": "uploading"},
        ).raise_for_status()
        control.put(f"/scenes/{scene_id}", json={"status": "clip:upscaling"}).raise_for_status()
        read = syllaby_api.read(board["id"])
        assert read["status"] == "generating:subjects"
        assert read["video"]["status"] == "uploading"
        assert read["scenes"][0]["status"] == "clip:upscaling"
        status = syllaby_api.get(f"/text-to-scene/{board['id']}/scenes/{scene_id}/status")
        assert status.json()["data"]["status"] == "clip:upscaling"
        assert control.put("/storyboards/999", json={"status": "x"}).status_code == 422

    def test_a_bad_control_request_is_422(self, syllaby_sandbox: SyllabySandboxServer) -> None:
        response = syllaby_sandbox.control.put("/subscription", json={"active": "yes"})
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "bad_control_request"
