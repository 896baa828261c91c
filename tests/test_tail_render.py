"""`storybridge tail` renders every event family of the contract as one readable line."""

from __future__ import annotations

from typing import Any

import pytest

from bridge.cli.tail import render_event
from bridge.watch.events import lifecycle_event
from bridge.watch.model import WatchSpec

P = "story.evt."


def line(subject: str, data: dict[str, Any]) -> str:
    event = {"time": "2026-12-02T04:00:00.123Z", "data": data}
    return render_event(P + subject, event).plain


class TestLifecycleEvents:
    def test_watch_stalled_names_the_resource_and_the_last_error_not_a_status(self) -> None:
        """A real watch.stalled event shows its failures and last error, never "∅ → None"."""
        spec = WatchSpec(provider="story", resource="job", id="cmj_1")
        event = lifecycle_event(
            spec=spec, name="stalled", episode=1, subject=P + "watch.stalled", source="s",
            type_prefix="studio.sleeperhit.story", subject_path="story-jobs/cmj_1",
            project_id="cmp_1", observed_at=0.0, failures=5, lastError="internal_error: boom",
        )  # fmt: skip
        text = render_event(P + "watch.stalled", event.payload).plain
        assert "job cmj_1" in text
        assert "5 reads" in text and "internal_error: boom" in text
        assert "None" not in text and "∅" not in text

    @pytest.mark.parametrize(
        ("kind", "words"),
        [("recovered", "read again"), ("gone", "not found"), ("expired", "age limit")],
    )
    def test_watch_lifecycle_events_say_what_happened(self, kind: str, words: str) -> None:
        """watch.recovered / gone / expired say what happened to the watch, with no status."""
        text = line(f"watch.{kind}", {"resource": "plan", "id": "cmpl_1"})
        assert "plan cmpl_1" in text and words in text and "None" not in text


class TestBridgeEvents:
    def test_degraded_shows_the_provider_and_the_account_error(self) -> None:
        """bridge.degraded: which provider, the code and message, since when."""
        text = line(
            "bridge.degraded",
            {"provider": "story", "code": "api_key_revoked", "message": "revoked",
             "since": "2026-12-02T03:59:00Z"},
        )  # fmt: skip
        assert "provider=story" in text and "api_key_revoked: revoked" in text
        assert "since 2026-12-02T03:59:00Z" in text

    def test_recovered_shows_the_provider_without_an_error(self) -> None:
        """bridge.recovered: the provider, no error text."""
        text = line("bridge.recovered", {"provider": "story", "since": "2026-12-02T04:00:00Z"})
        assert "provider=story" in text and "None" not in text


class TestCommandEvents:
    def test_a_success_outcome_shows_command_id_status_and_replay(self) -> None:
        """command.succeeded: the command, its commandId, HTTP status and replayed."""
        text = line(
            "command.succeeded",
            {"commandId": "c-1", "command": "plan.approve", "ok": True, "status": 200,
             "replayed": True},
        )  # fmt: skip
        assert "plan.approve commandId=c-1 status=200 replayed=True" in text

    def test_retrying_shows_the_attempt_the_next_try_and_the_error(self) -> None:
        """command.retrying: attempt number, when the next try is, and why this one failed."""
        text = line(
            "command.retrying",
            {"commandId": "c-2", "command": "job.create", "ok": False, "attempt": 3,
             "nextAttemptAt": "2026-12-02T04:01:00Z",
             "error": {"code": "upstream_unavailable", "message": "503s"}},
        )  # fmt: skip
        assert "attempt=3 next=2026-12-02T04:01:00Z" in text
        assert "upstream_unavailable: 503s" in text

    def test_dead_lettered_says_so_with_the_last_error(self) -> None:
        """command.dead_lettered: marked as such, with the last outcome's error."""
        text = line(
            "command.dead_lettered",
            {"commandId": "c-3", "command": "job.create", "ok": False,
             "error": {"code": "upstream_unavailable", "message": "deadline passed"}},
        )  # fmt: skip
        assert "dead-lettered" in text and "deadline passed" in text


class TestResourceEvents:
    def test_a_first_seen_status_chains_from_nothing(self) -> None:
        """A resource's first event shows ∅ → its status."""
        text = line("job.running", {"id": "cmj_1", "status": "running", "previousStatus": None})
        assert "cmj_1 ∅ → running" in text

    def test_a_facet_with_parts_names_the_part(self) -> None:
        """Per-range, per-cue and per-character facets show which part changed."""
        text = line(
            "artifact.voice_modification.ready",
            {"id": "cma_1", "facet": "voice_modification", "part": "0-2", "status": "ready",
             "previousStatus": "rendering"},
        )  # fmt: skip
        assert "cma_1 [0-2] rendering → ready" in text

    def test_revised_events_without_a_status_show_the_subject_kind(self) -> None:
        """artifact.revised carries `status: revised`; without one the subject's last token shows."""
        text = line("artifact.revised", {"id": "cma_1", "previousStatus": None})
        assert "∅ → revised" in text
