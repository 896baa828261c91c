"""How Story API objects become facet observations, subjects, types and terminal decisions."""

from __future__ import annotations

import json
from typing import Any

from cloudevents.core.formats.json import JSONFormat

from bridge.names import Subjects
from bridge.providers.story.watch.facets import is_terminal, observe
from bridge.providers.story.watch.provider import StoryProvider
from bridge.watch.model import Reading, WatchRecord, WatchSpec
from bridge.watch.transition import stage_changes

PROVIDER = StoryProvider(client=None, base_url="http://127.0.0.1:1/api/v1")


def job(status: str, *artifacts: dict[str, Any]) -> dict[str, Any]:
    return {"id": "cmj_1", "projectId": "cmp_1", "status": status, "artifacts": list(artifacts)}


def artifact(status: str, *, version: int = 1, **manifest: Any) -> dict[str, Any]:
    return {
        "id": "cma_1",
        "status": status,
        "currentVersion": version,
        "manifest": manifest or None,
    }


def spec(kind: str, facets: tuple[str, ...] | None = None, **parents: str) -> WatchSpec:
    ids = {"job": "cmj_1", "artifact": "cma_1", "source": "cmq_1", "plan": "cmpl_1"}
    return WatchSpec(provider="story", resource=kind, id=ids[kind], parents=parents, facets=facets)


def test_job_yields_its_status_then_its_artifacts() -> None:
    """A job snapshot is a job observation followed by one per embedded artifact."""
    obs = observe(spec("job"), Reading(job("RUNNING", artifact("RUNNING"))))
    assert [(o.resource, o.facet, o.status) for o in obs if not o.silent] == [
        ("job", None, "running"),
        ("artifact", None, "running"),
    ]
    assert [PROVIDER.event_subject(o) for o in obs if not o.silent] == [
        "job.running",
        "artifact.running",
    ]
    assert obs[0].subject_path == "story-jobs/cmj_1"
    assert obs[1].subject_path == "artifacts/cma_1"


def test_job_is_terminal_only_when_its_artifacts_are() -> None:
    """READY job with a RUNNING artifact keeps the watch; all settled ends it; PARTIAL does not."""
    s = spec("job")
    running = observe(s, Reading(job("READY", artifact("RUNNING"))))
    settled = observe(s, Reading(job("READY", artifact("READY"))))
    partial = observe(s, Reading(job("PARTIAL", artifact("READY"))))
    assert not is_terminal(s, running)
    assert is_terminal(s, settled)
    assert not is_terminal(s, partial)


def test_source_without_status_is_ready_and_digest_not_started_is_silent() -> None:
    """FIELD-NOTES: a READY source may omit status; a digest that never started is no event."""
    s = spec("source", projectId="cmp_1")
    obs = observe(s, Reading({"id": "cmq_1", "digestStatus": "NOT_STARTED"}))
    assert [(o.facet, o.status, o.silent) for o in obs] == [
        (None, "ready", False),
        ("digest", "not_started", True),
    ]
    assert obs[0].subject_path == "story-projects/cmp_1/sources/cmq_1"
    running = observe(s, Reading({"id": "cmq_1", "status": "READY", "digestStatus": "RUNNING"}))
    assert PROVIDER.event_subject(running[1]) == "source.digest.running"
    assert PROVIDER.event_type(running[1]) == "studio.sleeperhit.story.source.digest.running"
    assert not is_terminal(s, running)


def test_a_digest_not_started_is_followed_unless_the_source_failed() -> None:
    """The API queues a digest for every READY source, so NOT_STARTED there is not the end; a
    FAILED source never gets one, so its watch ends."""
    s = spec("source", projectId="cmp_1")
    queued = observe(s, Reading({"id": "cmq_1", "status": "READY", "digestStatus": "NOT_STARTED"}))
    failed = observe(s, Reading({"id": "cmq_1", "status": "FAILED", "digestStatus": "NOT_STARTED"}))
    skipped = observe(s, Reading({"id": "cmq_1", "status": "READY", "digestStatus": "SKIPPED"}))
    assert not is_terminal(s, queued)
    assert is_terminal(s, failed)
    assert is_terminal(s, skipped)


def test_artifact_facets_name_their_subjects() -> None:
    """finalize and video facets map to artifact.finalize.<stage> / artifact.video.<status>."""
    art = artifact(
        "READY",
        audio={"finalize": {"status": "rendering"}},
        video={"status": "not_rendered"},
    )
    obs = observe(spec("artifact", ("finalize", "video")), Reading(art))
    assert [(PROVIDER.event_subject(o), o.silent) for o in obs] == [
        ("artifact.finalize.rendering", False),
        ("artifact.video.not_rendered", True),
    ]
    assert not is_terminal(spec("artifact", ("finalize", "video")), obs)


def test_revised_is_one_event_per_new_version() -> None:
    """currentVersion 1 is silent; each higher version is one artifact.revised event."""
    s = spec("artifact", ("revised",))
    record = WatchRecord(spec=s)
    staged = []
    for version in (1, 2, 2, 3):
        obs = observe(s, Reading(artifact("READY", version=version)))
        staged += stage_changes(record, PROVIDER, obs, Subjects("story"), 0.0)
    assert [e.subject for e in staged] == ["story.evt.artifact.revised"] * 2
    assert [e.payload["data"]["revision"] for e in staged] == [2, 3]
    assert [e.payload["data"]["previousStatus"] for e in staged] == [None, "revised"]


def test_music_and_coverage_facets_read_their_side_documents() -> None:
    """music `none` is silent; coverage follows the report named in the watch's parents."""
    s = spec("artifact", ("music", "coverage"), reportId="cmcov_1")
    snap = Reading(
        artifact("READY"), {"music": {"status": "generating"}, "coverage": {"status": "complete"}}
    )
    obs = observe(s, snap)
    assert [(PROVIDER.event_subject(o), o.id) for o in obs] == [
        ("artifact.music.generating", "cma_1"),
        ("artifact.coverage.complete", "cma_1"),
    ]
    none = observe(s, Reading(artifact("READY"), {"music": {"status": "none"}, "coverage": None}))
    assert all(o.silent for o in none)
    assert is_terminal(s, none)


def test_staged_events_are_valid_cloudevents_with_the_contract_fields() -> None:
    """Each staged document parses with the CloudEvents SDK and carries the contract's data."""
    s = spec("job", projectId="cmp_1")
    record = WatchRecord(spec=s)
    obs = observe(s, Reading(job("READY", artifact("READY"))))
    staged = stage_changes(record, PROVIDER, obs, Subjects("story"), 1_800_000_000.0)
    for event in staged:
        parsed = JSONFormat().read(None, json.dumps(event.payload).encode())
        assert parsed.get_id() == event.id
        assert parsed.get_source() == "http://127.0.0.1:1/api/v1"
    doc = staged[0].payload
    assert doc["type"] == "studio.sleeperhit.story.job.ready"
    assert doc["subject"] == "story-jobs/cmj_1"
    assert doc["datacontenttype"] == "application/json"
    assert doc["data"]["projectId"] == "cmp_1"
    assert doc["data"]["snapshot"]["status"] == "READY"
    assert staged[1].payload["data"]["resource"] == "artifact"
