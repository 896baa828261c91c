"""How the Syllaby sandbox says no, over real HTTP: 401, the subscription gate's 403 before any
other check, precondition 403s, 402 that charges nothing, Laravel's 422, 404s."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from bridge.sandboxes.syllaby import SyllabySandboxConfig, SyllabySandboxServer
from tests.fixtures.syllaby_sandbox import PROMPT, SyllabyApi, any_token


@pytest.fixture
def syllaby_sandbox_config() -> SyllabySandboxConfig:
    return SyllabySandboxConfig(manual_clock=True, rate_limit_per_minute=100_000)


def subscription(sandbox: SyllabySandboxServer, active: bool) -> None:
    sandbox.control.put("/subscription", json={"active": active}).raise_for_status()


class TestUnauthenticated:
    @pytest.mark.parametrize(
        "header",
        [None, "Bearer", "Basic abc", "Bearer not-a-sanctum-token"],
        ids=["missing", "empty", "other-scheme", "malformed"],
    )
    def test_a_bad_token_is_401_unauthenticated(
        self, syllaby_sandbox: SyllabySandboxServer, header: str | None
    ) -> None:
        headers = {"Authorization": header} if header else {}
        response = httpx.get(f"{syllaby_sandbox.base_url}/text-to-scene/1", headers=headers)
        assert response.status_code == 401
        assert response.json() == {"message": "Unauthenticated.", "status": 401}

    def test_only_known_tokens_pass_when_any_token_is_off_and_a_revoked_one_never(self) -> None:
        with SyllabySandboxServer(SyllabySandboxConfig(accept_any_token=False)) as sandbox:
            token = sandbox.control.post("/tokens").json()["token"]
            url = f"{sandbox.base_url}/text-to-scene"
            body = {"title": "T", "mode": "manual"}

            def create(with_token: str) -> int:
                headers = {"Authorization": f"Bearer {with_token}"}
                return httpx.post(url, json=body, headers=headers).status_code

            assert create(any_token()) == 401
            assert create(token) == 201
            sandbox.control.request("DELETE", "/tokens", json={"token": token})
            assert create(token) == 401

    def test_the_token_never_appears_in_state_or_the_request_log(
        self, syllaby_api: SyllabyApi, syllaby_token: str
    ) -> None:
        syllaby_api.storyboard()
        secret = syllaby_token.split("|")[1]
        sandbox = syllaby_api.sandbox
        assert secret not in sandbox.control.get("/requests").text
        assert secret not in sandbox.control.get("/state").text


class TestSubscription:
    def test_without_a_subscription_every_endpoint_is_403_subscription_required(
        self, syllaby_sandbox: SyllabySandboxServer, syllaby_api: SyllabyApi
    ) -> None:
        """Reads included, and before ownership (404), validation (422) and credit (402) checks."""
        storyboard_id = syllaby_api.storyboard()
        subscription(syllaby_sandbox, False)
        syllaby_sandbox.control.put("/credits", json={"balance": 0})
        answers = [
            syllaby_api.get(f"/text-to-scene/{storyboard_id}"),
            syllaby_api.get("/text-to-scene/999"),  # would be 404
            syllaby_api.post("/text-to-scene", {"mode": "nope"}),  # would be 422
            syllaby_api.post(f"/text-to-scene/{storyboard_id}/prompt", PROMPT),  # would be 402
        ]
        for response in answers:
            assert response.status_code == 403
            assert response.json() == {
                "message": "An active subscription is required.",
                "status": 403,
                "code": "SUBSCRIPTION-REQUIRED",
            }

    def test_subscription_on_again_serves_as_before(
        self, syllaby_sandbox: SyllabySandboxServer, syllaby_api: SyllabyApi
    ) -> None:
        storyboard_id = syllaby_api.storyboard()
        subscription(syllaby_sandbox, False)
        assert syllaby_api.get(f"/text-to-scene/{storyboard_id}").status_code == 403
        subscription(syllaby_sandbox, True)
        assert syllaby_api.get(f"/text-to-scene/{storyboard_id}").status_code == 200


class TestPreconditions:
    def test_render_without_a_script_is_403_and_charges_nothing(
        self, syllaby_api: SyllabyApi
    ) -> None:
        storyboard_id = syllaby_api.storyboard()
        before = syllaby_api.state()["account"]["balance"]
        response = syllaby_api.post(f"/text-to-scene/{storyboard_id}/render")
        assert response.status_code == 403
        assert response.json() == {
            "message": "A script is required before rendering.",
            "status": 403,
        }
        assert "code" not in response.json()
        assert syllaby_api.state()["account"]["balance"] == before

    def test_render_while_the_video_renders_is_403_busy(self, syllaby_api: SyllabyApi) -> None:
        board = syllaby_api.with_clips()
        assert syllaby_api.post(f"/text-to-scene/{board['id']}/render").status_code == 202
        busy = syllaby_api.post(f"/text-to-scene/{board['id']}/render")
        assert busy.status_code == 403
        assert busy.json()["message"] == "The video is busy."
        assert syllaby_api.state()["storyboards"][0]["renders"] == 1

    def test_clips_while_generating_is_403(self, syllaby_api: SyllabyApi) -> None:
        board = syllaby_api.generated()
        syllaby_api.post(f"/text-to-scene/{board['id']}/prompt", PROMPT)
        syllaby_api.advance(6)  # new scenes written, images still generating
        scenes = syllaby_api.read(board["id"])["scenes"]
        body = {"scenes": [{"id": scenes[0]["id"], "enhance": False}]}
        response = syllaby_api.post(f"/text-to-scene/{board['id']}/clips", body)
        assert response.status_code == 403


class TestCredits:
    def test_out_of_credits_is_402_and_nothing_changes(
        self, syllaby_sandbox: SyllabySandboxServer, syllaby_api: SyllabyApi
    ) -> None:
        board = syllaby_api.with_clips()
        syllaby_sandbox.control.put("/credits", json={"balance": 5}).raise_for_status()
        estimate = syllaby_api.data(syllaby_api.get(f"/text-to-scene/{board['id']}/estimate"))
        assert estimate["available"] == 5 and estimate["sufficient"] is False
        charges = len(syllaby_api.state()["account"]["charges"])
        response = syllaby_api.post(f"/text-to-scene/{board['id']}/render")
        assert response.status_code == 402
        body = response.json()
        assert body["status"] == 402 and body["message"] == "Insufficient credits."
        assert body["required"] == estimate["required"] and body["available"] == 5
        state = syllaby_api.state()
        assert len(state["account"]["charges"]) == charges
        assert state["storyboards"][0]["renders"] == 0
        assert syllaby_api.read(board["id"])["status"] == "ready"

    def test_each_paid_endpoint_is_402_at_a_zero_balance(
        self, syllaby_sandbox: SyllabySandboxServer, syllaby_api: SyllabyApi
    ) -> None:
        board = syllaby_api.generated()
        syllaby_sandbox.control.put("/credits", json={"balance": 0})
        one = f"/text-to-scene/{board['id']}"
        clip = {"scenes": [{"id": board["scenes"][0]["id"], "enhance": False}]}
        for path, body in [
            ("/prompt", PROMPT),
            ("/context", {"prompt": "More."}),
            ("/clips", clip),
            ("/moodboard/generate", {"prompt": "Blue."}),
            ("/render", None),
        ]:
            assert syllaby_api.post(one + path, body).status_code == 402, path


class TestValidation:
    def errors(self, response: httpx.Response) -> dict[str, list[str]]:
        assert response.status_code == 422, response.text
        body: dict[str, Any] = response.json()
        assert set(body) == {"message", "status", "errors"}
        assert body["message"].startswith(next(iter(body["errors"].values()))[0])
        errors: dict[str, list[str]] = body["errors"]
        return errors

    def test_create_names_each_bad_field_laravel_style(self, syllaby_api: SyllabyApi) -> None:
        response = syllaby_api.post("/text-to-scene", {"title": "x" * 256, "mode": "auto"})
        assert self.errors(response) == {
            "title": ["The title field must not be greater than 255 characters."],
            "mode": ["The selected mode is invalid."],
        }
        assert response.json()["message"].endswith("(and 1 more error)")

    def test_a_missing_body_is_required_fields(self, syllaby_api: SyllabyApi) -> None:
        errors = self.errors(syllaby_api.post("/text-to-scene"))
        assert errors == {
            "title": ["The title field is required."],
            "mode": ["The mode field is required."],
        }

    def test_prompt_limits(self, syllaby_api: SyllabyApi) -> None:
        storyboard_id = syllaby_api.storyboard()
        pair = {"key": "style", "question": "q", "answer": "a"}
        body = {
            **PROMPT,
            "prompt": "x" * 5001,
            "references": ["r"] * 6,
            "context": [pair] * 4,
            "duration": {"min": 30, "max": 10},
        }
        errors = self.errors(syllaby_api.post(f"/text-to-scene/{storyboard_id}/prompt", body))
        assert errors["prompt"] == ["The prompt field must not be greater than 5000 characters."]
        assert errors["references"] == ["The references field must not have more than 5 items."]
        assert errors["context"] == ["The context field must not have more than 3 items."]
        assert "duration" in errors

    def test_nested_fields_are_dotted(self, syllaby_api: SyllabyApi) -> None:
        storyboard_id = syllaby_api.storyboard()
        body = {**PROMPT, "context": [{"key": "mood", "question": "q"}], "duration": {"min": 5}}
        errors = self.errors(syllaby_api.post(f"/text-to-scene/{storyboard_id}/prompt", body))
        assert errors["context.0.key"] == ["The selected context.0.key is invalid."]
        assert errors["context.0.answer"] == ["The context.0.answer field is required."]
        assert errors["duration.max"] == ["The duration.max field is required."]

    def test_an_unknown_clip_engine_is_invalid(self, syllaby_api: SyllabyApi) -> None:
        storyboard_id = syllaby_api.storyboard()
        body = {**PROMPT, "clip_engine_id": 999}
        errors = self.errors(syllaby_api.post(f"/text-to-scene/{storyboard_id}/prompt", body))
        assert errors == {"clip_engine_id": ["The selected clip engine id is invalid."]}

    def test_clips_need_scenes_of_this_storyboard(self, syllaby_api: SyllabyApi) -> None:
        board = syllaby_api.generated()
        other = syllaby_api.generated()
        clips = f"/text-to-scene/{board['id']}/clips"
        assert self.errors(syllaby_api.post(clips, {"scenes": []})) == {
            "scenes": ["The scenes field is required."]
        }
        foreign = {"scenes": [{"id": other["scenes"][0]["id"], "enhance": True}]}
        assert self.errors(syllaby_api.post(clips, foreign)) == {
            "scenes.0.id": ["The selected scenes.0.id is invalid."]
        }
        missing = {"scenes": [{"id": board["scenes"][0]["id"]}]}
        assert self.errors(syllaby_api.post(clips, missing)) == {
            "scenes.0.enhance": ["The scenes.0.enhance field is required."]
        }

    def test_scene_duration_is_at_least_one(self, syllaby_api: SyllabyApi) -> None:
        storyboard_id = syllaby_api.storyboard(mode="manual")
        response = syllaby_api.post(f"/text-to-scene/{storyboard_id}/scenes", {"duration": 0})
        assert self.errors(response) == {"duration": ["The duration field must be at least 1."]}


class TestNotFound:
    @pytest.mark.parametrize("path", ["/text-to-scene/999", "/text-to-scene/abc"])
    def test_an_unknown_storyboard_is_404(self, syllaby_api: SyllabyApi, path: str) -> None:
        response = syllaby_api.get(path)
        assert response.status_code == 404
        assert response.json()["status"] == 404

    def test_a_scene_of_another_storyboard_is_404(self, syllaby_api: SyllabyApi) -> None:
        board, other = syllaby_api.generated(), syllaby_api.generated()
        foreign = other["scenes"][0]["id"]
        response = syllaby_api.get(f"/text-to-scene/{board['id']}/scenes/{foreign}/status")
        assert response.status_code == 404

    def test_404_comes_before_validation(self, syllaby_api: SyllabyApi) -> None:
        assert syllaby_api.post("/text-to-scene/999/prompt", {}).status_code == 404

    def test_an_unknown_route_is_404(self, syllaby_api: SyllabyApi) -> None:
        response = syllaby_api.get("/text-to-video")
        assert response.status_code == 404
        assert "could not be found" in response.json()["message"]
