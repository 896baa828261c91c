"""The Syllaby sandbox's flows over real HTTP: the storyboard, scene and video machines on a
manual clock, credits charged per call, scenes edited, moodboards, the API's own failures."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.sandboxes.syllaby import SyllabySandboxConfig, SyllabySandboxServer
from tests.fixtures.syllaby_sandbox import CLIPS_DONE, PROMPT, RENDERED, SyllabyApi


@pytest.fixture
def syllaby_sandbox_config() -> SyllabySandboxConfig:
    return SyllabySandboxConfig(manual_clock=True, rate_limit_per_minute=100_000)


def balance(api: SyllabyApi) -> int:
    return int(api.state()["account"]["balance"])


class TestStoryboard:
    def test_create_answers_201_in_the_envelope_with_integer_ids(
        self, syllaby_api: SyllabyApi
    ) -> None:
        """`{message, status, data}`; ids are integers, the uuid a string; wizard mode shows `wizard`."""
        response = syllaby_api.post("/text-to-scene", {"title": "Deep", "mode": "wizard"})
        assert response.status_code == 201
        body = response.json()
        assert body["message"] == "Success." and body["status"] == 201
        data = body["data"]
        assert isinstance(data["id"], int) and isinstance(data["video"]["id"], int)
        assert isinstance(data["uuid"], str)
        assert data["status"] == "wizard"
        assert data["scenes"] == [] and data["duration"] == []
        assert data["settings"] == {"audio": True, "aspect_ratio": "16:9", "resolution": "1080p"}

    def test_a_manual_storyboard_starts_as_draft(self, syllaby_api: SyllabyApi) -> None:
        board = syllaby_api.read(syllaby_api.storyboard(mode="manual"))
        assert board["status"] == "draft"

    def test_a_never_rendered_storyboard_shows_its_video_rendering_without_url(
        self, syllaby_api: SyllabyApi
    ) -> None:
        """The reference's own quirk, kept: `video.status: rendering`, `url: null`, no render."""
        board = syllaby_api.generated()
        syllaby_api.advance(100)
        board = syllaby_api.read(board["id"])
        assert board["video"]["status"] == "rendering"
        assert board["video"]["url"] is None
        assert syllaby_api.state()["storyboards"][0]["renders"] == 0

    def test_generation_walks_prompts_then_images_then_ready(self, syllaby_api: SyllabyApi) -> None:
        """202 `generating:prompts`; the scenes appear with `generating:images`; then `ready`."""
        storyboard_id = syllaby_api.storyboard()
        response = syllaby_api.post(f"/text-to-scene/{storyboard_id}/prompt", PROMPT)
        assert response.status_code == 202
        assert response.json()["data"]["status"] == "generating:prompts"
        assert response.json()["data"]["prompt"] == PROMPT["prompt"]
        assert syllaby_api.read(storyboard_id)["scenes"] == []
        syllaby_api.advance(6)
        board = syllaby_api.read(storyboard_id)
        assert board["status"] == "generating:images"
        assert len(board["scenes"]) == 3
        assert [s["order"] for s in board["scenes"]] == [0, 1, 2]
        assert {s["status"] for s in board["scenes"]} == {"draft"}
        assert sum(board["duration"]) == PROMPT["duration"]["min"]  # type: ignore[index]
        assert board["duration"] == [s["duration"] for s in board["scenes"]]
        syllaby_api.advance(4)
        assert syllaby_api.read(storyboard_id)["status"] == "ready"

    def test_generation_charges_once_per_post(self, syllaby_api: SyllabyApi) -> None:
        before = balance(syllaby_api)
        syllaby_api.generated()
        assert balance(syllaby_api) == before - syllaby_api.sandbox.config.costs.prompt

    def test_patch_changes_only_the_settings_sent(self, syllaby_api: SyllabyApi) -> None:
        storyboard_id = syllaby_api.storyboard()
        response = syllaby_api.patch(
            f"/text-to-scene/{storyboard_id}", {"settings": {"aspect_ratio": "9:16"}}
        )
        assert response.status_code == 200
        assert response.json()["data"]["settings"] == {
            "audio": True,
            "aspect_ratio": "9:16",
            "resolution": "1080p",
        }

    def test_context_answers_text_and_charges(self, syllaby_api: SyllabyApi) -> None:
        storyboard_id = syllaby_api.storyboard()
        before = balance(syllaby_api)
        response = syllaby_api.post(
            f"/text-to-scene/{storyboard_id}/context", {"prompt": "The creatures of the deep."}
        )
        assert response.status_code == 200
        assert isinstance(response.json()["data"], str) and response.json()["data"]
        assert balance(syllaby_api) == before - syllaby_api.sandbox.config.costs.context

    def test_a_multipart_prompt_with_reference_files_is_accepted(
        self, syllaby_api: SyllabyApi
    ) -> None:
        """The reference allows multipart/form-data to attach images; bracketed field names nest."""
        storyboard_id = syllaby_api.storyboard()
        response = syllaby_api.http.post(
            f"/text-to-scene/{storyboard_id}/prompt",
            data={
                "prompt": "Coral reefs at night.",
                "clip_engine_id": "9",
                "duration[min]": "12",
                "duration[max]": "30",
                "context[0][key]": "style",
                "context[0][question]": "Which style?",
                "context[0][answer]": "Documentary",
            },
            files=[("references[]", ("reef.png", b"\x89PNG", "image/png"))],
        )
        assert response.status_code == 202, response.text
        assert response.json()["data"]["status"] == "generating:prompts"


class TestClipsAndRender:
    def test_clips_walk_queued_generating_completed_per_scene(
        self, syllaby_api: SyllabyApi
    ) -> None:
        board = syllaby_api.generated()
        first = board["scenes"][0]
        queued = syllaby_api.clips({"id": board["id"], "scenes": [first]})
        assert [s["status"] for s in queued] == ["clip:queued"]
        status = f"/text-to-scene/{board['id']}/scenes/{first['id']}/status"
        assert syllaby_api.data(syllaby_api.get(status)) == {
            "id": first["id"],
            "status": "clip:queued",
            "error": None,
        }
        syllaby_api.advance(2)
        assert syllaby_api.data(syllaby_api.get(status))["status"] == "clip:generating"
        syllaby_api.advance(8)
        assert syllaby_api.data(syllaby_api.get(status))["status"] == "clip:completed"
        others = syllaby_api.read(board["id"])["scenes"][1:]
        assert {s["status"] for s in others} == {"draft"}

    def test_clips_charge_per_second_of_each_named_scene(self, syllaby_api: SyllabyApi) -> None:
        board = syllaby_api.generated()
        before = balance(syllaby_api)
        syllaby_api.clips(board)
        per_second = syllaby_api.sandbox.config.costs.clip_per_second
        assert balance(syllaby_api) == before - per_second * sum(board["duration"])

    def test_enhance_rewrites_the_scene_prompt(self, syllaby_api: SyllabyApi) -> None:
        board = syllaby_api.generated()
        scenes = syllaby_api.clips(board, enhance=True)
        assert all(
            s["video_prompt"] != b["video_prompt"]
            for s, b in zip(scenes, board["scenes"], strict=True)
        )

    def test_render_answers_202_with_meta_credits_and_completes_with_a_url(
        self, syllaby_api: SyllabyApi
    ) -> None:
        board = syllaby_api.with_clips()
        before = balance(syllaby_api)
        estimate = syllaby_api.data(syllaby_api.get(f"/text-to-scene/{board['id']}/estimate"))
        assert estimate == {
            "required": estimate["required"],
            "available": before,
            "sufficient": True,
        }
        response = syllaby_api.post(f"/text-to-scene/{board['id']}/render")
        assert response.status_code == 202
        body = response.json()
        assert body["meta"] == {
            "credits": {"cost": estimate["required"], "remaining": before - estimate["required"]}
        }
        assert body["data"]["status"] == "processing"
        assert body["data"]["video"]["status"] == "rendering"
        assert body["data"]["video"]["url"] is None
        syllaby_api.advance(RENDERED)
        done = syllaby_api.read(board["id"])
        assert done["status"] == "completed"
        assert done["video"]["status"] == "completed"
        assert done["video"]["url"].startswith("https://")
        assert done["video"]["synced_at"] is not None

    def test_the_reference_example_costs_90_to_render(self, syllaby_api: SyllabyApi) -> None:
        """Scenes of 5, 6 and 5 seconds, as in the reference's example, cost 90."""
        storyboard_id = syllaby_api.storyboard(mode="manual")
        for seconds in (5, 6, 5):
            syllaby_api.post(
                f"/text-to-scene/{storyboard_id}/scenes",
                {"raw_video_prompt": "Reef.", "duration": seconds},
            )
        response = syllaby_api.post(f"/text-to-scene/{storyboard_id}/render")
        assert response.status_code == 202, response.text
        assert response.json()["meta"]["credits"]["cost"] == 90


class TestScenes:
    def board(self, api: SyllabyApi) -> tuple[int, list[int]]:
        storyboard_id = api.storyboard(mode="manual")
        ids = [
            api.data(
                api.post(f"/text-to-scene/{storyboard_id}/scenes", {"raw_video_prompt": f"S{i}"}),
                201,
            )["id"]
            for i in range(3)
        ]
        return storyboard_id, ids

    def order(self, api: SyllabyApi, storyboard_id: int) -> list[int]:
        return [s["id"] for s in api.read(storyboard_id)["scenes"]]

    def test_a_scene_is_added_at_its_order_and_the_rest_shift(
        self, syllaby_api: SyllabyApi
    ) -> None:
        storyboard_id, ids = self.board(syllaby_api)
        added = syllaby_api.data(
            syllaby_api.post(
                f"/text-to-scene/{storyboard_id}/scenes",
                {"order": 0, "raw_video_prompt": "Opening.", "duration": 7},
            ),
            201,
        )
        assert added["status"] == "draft" and added["order"] == 0 and added["duration"] == 7
        assert added["video_prompt"] == "Opening."
        assert self.order(syllaby_api, storyboard_id) == [added["id"], *ids]
        orders = [s["order"] for s in syllaby_api.read(storyboard_id)["scenes"]]
        assert orders == [0, 1, 2, 3]

    def test_update_changes_only_the_fields_sent(self, syllaby_api: SyllabyApi) -> None:
        storyboard_id, ids = self.board(syllaby_api)
        scene = syllaby_api.data(
            syllaby_api.patch(f"/text-to-scene/{storyboard_id}/scenes/{ids[0]}", {"duration": 9})
        )
        assert scene["duration"] == 9 and scene["video_prompt"] == "S0"

    def test_sort_moves_a_scene_after_another_or_to_the_start(
        self, syllaby_api: SyllabyApi
    ) -> None:
        storyboard_id, (a, b, c) = self.board(syllaby_api)
        sort = f"/text-to-scene/{storyboard_id}/scenes/sort"
        response = syllaby_api.put(sort, {"scene_id": a, "after_id": c})
        assert response.json()["data"] == {"message": "Scenes sorted successfully"}
        assert self.order(syllaby_api, storyboard_id) == [b, c, a]
        syllaby_api.put(sort, {"scene_id": c, "after_id": None})
        assert self.order(syllaby_api, storyboard_id) == [c, b, a]

    def test_delete_answers_202_accepted_and_the_scene_is_gone(
        self, syllaby_api: SyllabyApi
    ) -> None:
        storyboard_id, (a, b, c) = self.board(syllaby_api)
        response = syllaby_api.delete(f"/text-to-scene/{storyboard_id}/scenes/{b}")
        assert response.status_code == 202
        assert response.json()["data"] == {"message": "Accepted"}
        assert self.order(syllaby_api, storyboard_id) == [a, c]
        gone = syllaby_api.get(f"/text-to-scene/{storyboard_id}/scenes/{b}/status")
        assert gone.status_code == 404

    def test_frames_chain_and_unchain_are_kept(self, syllaby_api: SyllabyApi) -> None:
        storyboard_id, (a, b, _) = self.board(syllaby_api)
        scene = f"/text-to-scene/{storyboard_id}/scenes/{b}"
        assert syllaby_api.put(scene + "/frames", {"first_frame_id": 101}).status_code == 200
        assert syllaby_api.put(scene + "/chain", {"scene_id": a}).status_code == 200

        def details() -> dict[str, Any]:
            found: dict[str, Any] = next(
                s for s in syllaby_api.state()["storyboards"][0]["scene_details"] if s["id"] == b
            )
            return found

        assert details()["first_frame_id"] == 101 and details()["chained_to"] == a
        syllaby_api.put(scene + "/frames", {"first_frame_id": None, "last_frame_id": 102})
        assert syllaby_api.delete(scene + "/chain").status_code == 200
        assert details()["first_frame_id"] is None and details()["last_frame_id"] == 102
        assert details()["chained_to"] is None


class TestMoodboard:
    def test_upload_answers_one_entry_per_reference(self, syllaby_api: SyllabyApi) -> None:
        storyboard_id = syllaby_api.storyboard()
        entries = syllaby_api.data(
            syllaby_api.post(
                f"/text-to-scene/{storyboard_id}/moodboard/upload",
                {"prompt": "Warm tones.", "references": [5, 6]},
            ),
            201,
        )
        assert [e["asset_id"] for e in entries] == [5, 6]
        assert {e["source"] for e in entries} == {"upload"}

    def test_generate_answers_202_and_charges(self, syllaby_api: SyllabyApi) -> None:
        storyboard_id = syllaby_api.storyboard()
        before = balance(syllaby_api)
        entry = syllaby_api.data(
            syllaby_api.post(
                f"/text-to-scene/{storyboard_id}/moodboard/generate",
                {"prompt": "Deep blues.", "enhance": True},
            ),
            202,
        )
        assert entry["source"] == "generated" and entry["status"] == "success"
        assert balance(syllaby_api) == before - syllaby_api.sandbox.config.costs.moodboard


class TestFailures:
    def set_failures(self, sandbox: SyllabySandboxServer, **which: bool) -> None:
        sandbox.control.put("/failures", json=which).raise_for_status()

    def test_a_failed_generation_ends_failed_and_is_refunded(
        self, syllaby_sandbox: SyllabySandboxServer, syllaby_api: SyllabyApi
    ) -> None:
        self.set_failures(syllaby_sandbox, generate=True)
        before = balance(syllaby_api)
        storyboard_id = syllaby_api.storyboard()
        syllaby_api.post(f"/text-to-scene/{storyboard_id}/prompt", PROMPT)
        syllaby_api.advance(11)
        assert syllaby_api.read(storyboard_id)["status"] == "failed"
        assert balance(syllaby_api) == before
        actions = [c["action"] for c in syllaby_api.state()["account"]["charges"]]
        assert actions == ["prompt", "refund:prompt"]

    def test_a_failed_clip_carries_its_error(
        self, syllaby_sandbox: SyllabySandboxServer, syllaby_api: SyllabyApi
    ) -> None:
        board = syllaby_api.generated()
        self.set_failures(syllaby_sandbox, clips=True)
        syllaby_api.clips(board)
        syllaby_api.advance(CLIPS_DONE)
        scenes = syllaby_api.read(board["id"])["scenes"]
        assert {s["status"] for s in scenes} == {"clip:failed"}
        assert all(s["error"] for s in scenes)

    def test_a_failed_render_shows_failed_with_a_failure_and_no_url(
        self, syllaby_sandbox: SyllabySandboxServer, syllaby_api: SyllabyApi
    ) -> None:
        board = syllaby_api.with_clips()
        self.set_failures(syllaby_sandbox, render=True)
        syllaby_api.post(f"/text-to-scene/{board['id']}/render")
        syllaby_api.advance(RENDERED)
        video = syllaby_api.read(board["id"])["video"]
        assert video["status"] == "failed" and video["url"] is None
        assert video["failure"] is not None


def test_the_server_exposes_base_url_control_and_the_live_state(
    syllaby_sandbox: SyllabySandboxServer, syllaby_api: SyllabyApi
) -> None:
    """base_url is the root of the reference's /text-to-scene paths; state is the same world."""
    assert syllaby_sandbox.base_url == f"http://127.0.0.1:{syllaby_sandbox.port}/v2"
    storyboard_id = syllaby_api.storyboard(title="seen in-process")
    assert syllaby_sandbox.state.world.storyboards.records[storyboard_id].title == "seen in-process"
    assert syllaby_sandbox.control.get("/clock").json()["manual"] is True
