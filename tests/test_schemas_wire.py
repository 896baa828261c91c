"""The wire contract: command payloads, the outcome document, CloudEvents, error codes, terminal sets."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cloudevents.core.formats.json import JSONFormat
from pydantic import ValidationError

from bridge.watch.events import change_event
from bridge.watch.model import Observation
from schemas.catalog import COMMAND_MODELS, COMMAND_ROUTES, parse_command
from schemas.story import enums as e
from schemas.story.commands_pipeline import PIPELINE_COMMANDS
from schemas.story.errors import ERROR_CODES, KNOWN_ERROR_CODES, is_ambiguous
from schemas.story.reads import READ_COMMANDS
from schemas.wire.commands import UnknownCommand
from schemas.wire.events import CONTENT_TYPE, EVENT_TYPE_PREFIX, CloudEvent, ResourceEventData
from schemas.wire.outcome import Outcome, OutcomeError

READS = {model.command for model in READ_COMMANDS}
from schemas.syllaby.commands import SYLLABY_COMMANDS  # noqa: E402

WRITES = set(COMMAND_MODELS) - READS
CONTRACT = Path(__file__).resolve().parents[1] / "docs" / "CONTRACT.md"
SHARED_CONTRACT = Path(__file__).resolve().parents[2] / "shared" / "CONTRACT.md"
TARGET = {"audience": "a", "objective": "o", "outcome": "x"}
PLAN_BODY = {"target": TARGET, "artifactRequests": [{"type": "table_read"}]}


def _fields(err: ValidationError) -> list[str]:
    return [".".join(str(p) for p in e["loc"]) for e in err.errors()]


# name -> (payload without commandId, expected path params, expected body or None)
SAMPLES: dict[str, tuple[dict[str, Any], dict[str, str], dict[str, Any] | None]] = {
    "project.create": ({"name": "Launch"}, {}, {"name": "Launch"}),
    "project.update": (
        {"projectId": "cmp_1", "description": None, "archived": True},
        {"projectId": "cmp_1"},
        {"description": None, "archived": True},
    ),
    "project.delete": ({"projectId": "cmp_1"}, {"projectId": "cmp_1"}, None),
    "source.create": (
        {"projectId": "cmp_1", "type": "url", "uri": "https://example.com/a"},
        {"projectId": "cmp_1"},
        {"type": "url", "uri": "https://example.com/a"},
    ),
    "source.delete": (
        {"projectId": "cmp_1", "sourceId": "cmq_1"},
        {"projectId": "cmp_1", "sourceId": "cmq_1"},
        None,
    ),
    "plan.create": ({"projectId": "cmp_1", **PLAN_BODY}, {"projectId": "cmp_1"}, PLAN_BODY),
    "plan.approve": ({"planId": "cmpl_1"}, {"planId": "cmpl_1"}, {}),
    "plan.reject": (
        {"planId": "cmpl_1", "reason": "tone"},
        {"planId": "cmpl_1"},
        {"reason": "tone"},
    ),
    "job.create": (
        {"storyPlanId": "cmpl_1", "projectId": "cmp_1"},
        {},
        {"storyPlanId": "cmpl_1", "projectId": "cmp_1"},
    ),
    "job.cancel": ({"jobId": "cmj_1"}, {"jobId": "cmj_1"}, None),
    "artifact.refine": (
        {"artifactId": "cma_1", "instruction": "warmer", "scope": "screenplay"},
        {"artifactId": "cma_1"},
        {"instruction": "warmer", "scope": "screenplay"},
    ),
    "artifact.finalize": ({"artifactId": "cma_1"}, {"artifactId": "cma_1"}, {}),
    "artifact.render_video": ({"artifactId": "cma_1"}, {"artifactId": "cma_1"}, None),
    "artifact.voice": (
        {"artifactId": "cma_1", "character": "N", "voiceId": "v", "voiceName": "V"},
        {"artifactId": "cma_1"},
        {"character": "N", "voiceId": "v", "voiceName": "V"},
    ),
    "artifact.coverage": ({"artifactId": "cma_1"}, {"artifactId": "cma_1"}, {}),
    "artifact.music": (
        {"artifactId": "cma_1", "sceneIndex": 2, "enabled": False},
        {"artifactId": "cma_1"},
        {"sceneIndex": 2, "enabled": False},
    ),
    "artifact.sfx": (
        {"artifactId": "cma_1", "op": "remove", "id": "sfx_1"},
        {"artifactId": "cma_1"},
        {"op": "remove", "id": "sfx_1"},
    ),
    "artifact.cast": (
        {"artifactId": "cma_1", "avatarStyle": "noir"},
        {"artifactId": "cma_1"},
        {"avatarStyle": "noir"},
    ),
    "artifact.avatar": (
        {"artifactId": "cma_1", "character": "MAYA"},
        {"artifactId": "cma_1"},
        {"character": "MAYA"},
    ),
    "artifact.voice_modification": (
        {"artifactId": "cma_1", "startEntryIndex": 4, "endEntryIndex": 9, "params": {"key": "D"}},
        {"artifactId": "cma_1"},
        {"startEntryIndex": 4, "endEntryIndex": 9, "params": {"key": "D"}},
    ),
    "series_bible.generate": (
        {"projectId": "cmp_1", "instructions": "10 episodes"},
        {"projectId": "cmp_1"},
        {"instructions": "10 episodes"},
    ),
    "series_bible.update": (
        {"projectId": "cmp_1", "content": {"logline": "l"}},
        {"projectId": "cmp_1"},
        {"content": {"logline": "l"}},
    ),
    "watch.add": ({"resource": "job", "id": "cmj_1"}, {}, None),
    "admin.redrive": ({"command": "plan.approve", "dryRun": True}, {}, None),
    # --- project additions (schemas.story.commands_pipeline) ---
    "plan.resume": ({"planId": "cmpl_1"}, {"planId": "cmpl_1"}, None),
    "job.resume": ({"jobId": "cmj_1"}, {"jobId": "cmj_1"}, None),
    "release.create": (
        {"seriesId": "ser_1", "title": "Ep 1", "sourceArtifactId": "cma_1", "seasonNumber": 2},
        {"seriesId": "ser_1"},
        {"title": "Ep 1", "sourceArtifactId": "cma_1", "seasonNumber": 2},
    ),
    "release.describe": (
        {"releaseId": "rel_1", "direction": "warm"},
        {"releaseId": "rel_1"},
        {"direction": "warm"},
    ),
    "release.publish": ({"releaseId": "rel_1"}, {"releaseId": "rel_1"}, {}),
    "release.refresh_media": (
        {"releaseId": "rel_1", "sourceArtifactId": "cma_2"},
        {"releaseId": "rel_1"},
        {"sourceArtifactId": "cma_2"},
    ),
    "release.list": ({"seriesId": "ser_1", "status": "published"}, {"seriesId": "ser_1"}, None),
    "artifact.start_live": ({"artifactId": "cma_1", "token": "t"}, {"artifactId": "cma_1"}, None),
    "agent_guidance.get": ({}, {}, None),
    "cast_canon.update": (
        {"projectId": "cmp_1", "content": {"characters": []}},
        {"projectId": "cmp_1"},
        {"content": {"characters": []}},
    ),
    "watch.remove": (
        {"resource": "source", "id": "cmq_1", "projectId": "cmp_1"},
        {},
        None,
    ),
    "admin.watches": ({"resource": "job", "state": "stalled", "limit": 10}, {}, None),
    "admin.status": ({"deadLetterSample": 10}, {}, None),
}


# Commands that CONTRACT.md's additions name in prose rather than in the commands table.
ADDITIONS = {"admin.redrive", "admin.watches", "admin.status"}


PROJECT_MARK = "\n## Project additions"
SHARED_PART, PROJECT_PART = "shared", "project"


def _contract_command_names(part: str = SHARED_PART) -> set[str]:
    """The `<resource>.<action>` names in the first column of the contract's command tables: the
    shared contract's (above "Project additions"), or this project's additions below it."""
    shared, _, project = CONTRACT.read_text().partition(PROJECT_MARK)
    names: set[str] = set()
    for line in (shared if part == SHARED_PART else project).splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            names.update(re.findall(r"`([a-z_]+\.[a-z_]+)`", first_cell))
    return names


def _syllaby_command_names() -> set[str]:
    """The Syllaby table's commands: `syllaby.storyboard.create` / `.get` / ... spelt out."""
    shared, _, _ = CONTRACT.read_text().partition(PROJECT_MARK)
    names: set[str] = set()
    for line in shared.splitlines():
        if not line.startswith("| `syllaby."):
            continue
        first_cell = line.split("|")[1]
        base = ""
        for token in re.findall(r"`([a-z_.]+)`", first_cell):
            if token.startswith("syllaby."):
                names.add(token)
                base = token.rsplit(".", 1)[0]
            elif token.startswith("."):
                names.add(base + token)
    return names


class TestCommandRegistry:
    @pytest.mark.skipif(
        not SHARED_CONTRACT.exists(), reason="no ../shared checkout beside this one"
    )
    def test_the_vendored_contract_is_the_shared_one(self) -> None:
        """docs/CONTRACT.md is a verbatim copy of the shared contract other teams build on, followed
        only by the project's clearly separated additions."""
        shared = SHARED_CONTRACT.read_text()
        ours = CONTRACT.read_text()
        assert ours.startswith(shared)
        rest = ours[len(shared) :]
        assert not rest or rest.lstrip().startswith("---\n\n## Project additions")

    def test_registry_is_the_contract_table_plus_the_additions(self) -> None:
        """Every command of CONTRACT.md's table is registered; the rest are the additions' own:
        the shared contract's (named in prose) and this project's (its additions table)."""
        assert _syllaby_command_names() <= set(COMMAND_MODELS)
        contract = _contract_command_names() - {
            "syllaby.storyboard",
            "syllaby.scene",
            "syllaby.moodboard",
        }
        assert contract <= set(COMMAND_MODELS)
        assert len(contract) == 24
        project = _contract_command_names(PROJECT_PART)
        added_reads = {"job.list_artifacts", "cast_canon.get", "openapi.get", "examples.get"}
        assert project == {m.command for m in PIPELINE_COMMANDS} | added_reads
        # The read commands are the shared contract's "Read commands" list (tests/test_reads.py).
        syllaby = _syllaby_command_names()
        assert len(syllaby) == 18
        assert syllaby == {m.command for m in SYLLABY_COMMANDS}
        # `syllaby.storyboard.create` reads as `syllaby.storyboard` to the two-token pattern.
        two_token = _contract_command_names() - {"syllaby.storyboard", "syllaby.scene"}
        two_token -= {"syllaby.moodboard"}
        assert set(COMMAND_MODELS) - two_token == ADDITIONS | project | READS | syllaby

    def test_each_model_knows_its_name_and_route(self) -> None:
        """`Model.command` is its registry key; every API command names its route."""
        assert all(model.command == name for name, model in COMMAND_MODELS.items())
        assert {n for n, route in COMMAND_ROUTES.items() if route is None} == {
            "watch.add",
            "watch.remove",
            "admin.redrive",
            "admin.watches",
            "admin.status",
        }

    @pytest.mark.parametrize("name", sorted(SAMPLES))
    def test_command_parses_and_splits_into_path_and_body(self, name: str) -> None:
        """Path params go to path(); body fields that were set go to body(); commandId to neither."""
        payload, path, body = SAMPLES[name]
        cmd = parse_command(name, {**payload, "commandId": "cmd-1"})
        assert cmd.commandId == "cmd-1"
        assert cmd.path() == path
        built = cmd.body()
        assert (built.to_body() if built is not None else None) == body

    def test_samples_cover_every_command(self) -> None:
        """The table above exercises each registered command."""
        assert set(SAMPLES) == WRITES - {m.command for m in SYLLABY_COMMANDS}  # their own file

    def test_unknown_command_raises(self) -> None:
        """A name outside the registry is UnknownCommand (a ValueError), not a ValidationError."""
        with pytest.raises(UnknownCommand, match=r"project\.explode"):
            parse_command("project.explode", {})
        assert issubclass(UnknownCommand, ValueError)


class TestCommandValidation:
    @pytest.mark.parametrize("command_id", ["", "has space", "x" * 129, "slash/no", "é"])
    def test_bad_command_id_is_rejected_naming_command_id(self, command_id: str) -> None:
        """commandId is 1..128 chars of [A-Za-z0-9._:-]."""
        with pytest.raises(ValidationError) as err:
            parse_command("project.create", {"name": "x", "commandId": command_id})
        assert _fields(err.value) == ["commandId"]

    def test_longest_allowed_command_id_passes(self) -> None:
        """128 characters from the whole alphabet pass."""
        command_id = ("aZ09._:-" * 16)[:128]
        assert parse_command("plan.approve", {"planId": "p", "commandId": command_id}).commandId

    def test_body_limits_apply_to_commands(self) -> None:
        """The body models' limits hold inside commands and name the field."""
        with pytest.raises(ValidationError) as err:
            parse_command(
                "plan.create",
                {
                    "projectId": "p",
                    "target": TARGET,
                    "artifactRequests": [{"type": "table_read"}] * 7,
                },
            )
        assert _fields(err.value) == ["artifactRequests"]
        with pytest.raises(ValidationError) as err:
            parse_command("source.create", {"projectId": "p", "type": "url"})
        assert _fields(err.value) == ["uri"]

    def test_missing_path_param_and_unknown_field_are_named(self) -> None:
        """A command without its path parameter, or with a typo, names the field."""
        with pytest.raises(ValidationError) as err:
            parse_command("job.cancel", {"jobid": "cmj_1"})
        assert set(_fields(err.value)) == {"jobId", "jobid"}

    def test_nested_unset_fields_are_not_sent(self) -> None:
        """A target without tone sends no tone key (exclude_unset is recursive)."""
        cmd = parse_command("plan.create", {"projectId": "p", **PLAN_BODY})
        body = cmd.body()
        assert body is not None
        assert body.to_body()["target"] == TARGET

    def test_watching_a_source_needs_its_project(self) -> None:
        """Sources are read under their project; plans, jobs and artifacts are not."""
        with pytest.raises(ValidationError, match="projectId is required") as err:
            parse_command("watch.add", {"resource": "source", "id": "cmq_1"})
        assert _fields(err.value) == ["projectId"]
        assert parse_command("watch.add", {"resource": "plan", "id": "cmpl_1"}).path() == {}

    def test_watching_a_release_needs_its_series(self) -> None:
        """Releases (a project addition) are read from their series' listing: seriesId is needed."""
        with pytest.raises(ValidationError, match="seriesId is required") as err:
            parse_command("watch.add", {"resource": "release", "id": "cmrel_1"})
        assert _fields(err.value) == ["seriesId"]
        cmd = parse_command("watch.add", {"resource": "release", "id": "cmrel_1", "seriesId": "s"})
        assert (cmd.resource, cmd.seriesId) == ("release", "s")

    def test_watch_resource_must_be_known(self) -> None:
        """Only source, plan, job, artifact and (project addition) release can be watched."""
        with pytest.raises(ValidationError) as err:
            parse_command("watch.remove", {"resource": "project", "id": "cmp_1"})
        assert _fields(err.value) == ["resource"]


class TestOutcome:
    def test_success_outcome_has_the_contract_shape(self) -> None:
        """ok:true carries status, replayed and result (nulls inside kept), and no error."""
        outcome = Outcome.success(
            command_id="c", command="plan.approve", status=200, replayed=True, result={"x": None}
        )
        assert json.loads(outcome.to_json()) == {
            "commandId": "c",
            "command": "plan.approve",
            "ok": True,
            "status": 200,
            "replayed": True,
            "result": {"x": None},
        }

    def test_failure_outcome_has_the_contract_shape(self) -> None:
        """ok:false carries only error (no status/result); unset details/field are omitted."""
        error = OutcomeError(
            code="story_job_not_found", message="m", requestId="r", status=404, retryable=False
        )
        doc = json.loads(
            Outcome.failure(command_id="c", command="job.cancel", error=error).to_json()
        )
        assert doc == {
            "commandId": "c",
            "command": "job.cancel",
            "ok": False,
            "error": {
                "code": "story_job_not_found",
                "message": "m",
                "requestId": "r",
                "status": 404,
                "retryable": False,
            },
        }

    def test_bridge_failure_keeps_null_request_id_and_the_field(self) -> None:
        """invalid_command has requestId/status null (contract keys) and names the field."""
        error = OutcomeError(code="invalid_command", message="m", retryable=False, field="name")
        doc = Outcome.failure(command_id="c", command="project.create", error=error).to_dict()
        assert doc["error"]["requestId"] is None and doc["error"]["status"] is None
        assert doc["error"]["field"] == "name"


def _event(time: datetime, data: Any) -> CloudEvent:
    return CloudEvent(
        id="e-1",
        source="https://sleeperhit.studio/api/v1",
        type=f"{EVENT_TYPE_PREFIX}.job.ready",
        subject="story-jobs/cmj_1",
        time=time,
        data=data,
    )


class TestCloudEvents:
    def test_event_is_valid_cloudevents_1_0(self) -> None:
        """The SDK reads our structured-mode JSON with every attribute intact."""
        data = ResourceEventData(
            resource="job",
            id="cmj_1",
            projectId="cmp_1",
            status="READY",
            previousStatus=None,
            snapshot={"id": "cmj_1", "status": "READY", "unknownLater": 1},
        )
        event = _event(datetime(2026, 11, 23, tzinfo=UTC), data.model_dump(mode="json"))
        parsed = JSONFormat().read(None, event.to_json())  # raises on an invalid event
        attributes = parsed.get_attributes()
        assert {k: attributes[k] for k in ("specversion", "id", "source", "type", "subject")} == {
            "specversion": "1.0",
            "id": "e-1",
            "source": "https://sleeperhit.studio/api/v1",
            "type": "studio.sleeperhit.story.job.ready",
            "subject": "story-jobs/cmj_1",
        }
        assert attributes["time"] == datetime(2026, 11, 23, tzinfo=UTC)
        body = parsed.get_data()
        assert isinstance(body, dict)
        assert body["previousStatus"] is None and body["snapshot"]["unknownLater"] == 1

    def test_time_is_rfc3339_utc_z_whatever_the_input_zone(self) -> None:
        """Naive times are UTC; other zones are converted; the suffix is Z."""
        plus_two = timezone(timedelta(hours=2))
        for when in (datetime(2026, 1, 1, 2, 0), datetime(2026, 1, 1, 4, 0, tzinfo=plus_two)):
            doc = json.loads(_event(when, {}).to_json())
            assert doc["time"] == "2026-01-01T02:00:00.000Z"
        naive = _event(datetime(2026, 1, 1, 2, 0), {}).to_json()
        assert JSONFormat().read(None, naive).get_attributes()["time"].tzinfo is not None

    def test_outcome_event_carries_the_outcome_document(self) -> None:
        """An outcome event's data is the outcome document, unchanged."""
        outcome = Outcome.success(
            command_id="c", command="plan.approve", status=200, replayed=False, result={}
        )
        event = _event(datetime(2026, 1, 1, tzinfo=UTC), outcome.to_dict())
        doc = json.loads(event.to_json())
        assert doc["data"] == outcome.to_dict()
        assert doc["datacontenttype"] == "application/json"
        assert CONTENT_TYPE == "application/cloudevents+json"

    def test_a_resource_change_is_made_by_the_same_model_and_serializer(self) -> None:
        """The watch's change event is the CloudEvent model's output: millisecond UTC time, the
        revision in data, facet present only where there is one, and it reads back as
        ResourceEventData."""
        obs = Observation(
            resource="artifact", id="cma_1", facet=None, status="ready", revision=3,
            project_id="cmp_1", subject_path="artifacts/cma_1", snapshot={"id": "cma_1"},
        )  # fmt: skip
        pending = change_event(
            event_id="e-2", subject="story.evt.artifact.ready", source="s",
            type=f"{EVENT_TYPE_PREFIX}.artifact.ready", obs=obs, previous="running",
            observed_at=datetime(2026, 1, 1, 2, 0, 0, 123456, tzinfo=UTC).timestamp(),
        )  # fmt: skip
        assert pending.payload["time"] == "2026-01-01T02:00:00.123Z"
        assert "facet" not in pending.payload["data"] and pending.payload["data"]["revision"] == 3
        event = CloudEvent.model_validate(pending.payload)
        assert event.to_dict() == pending.payload
        data = ResourceEventData.model_validate(event.data)
        assert (data.revision, data.previousStatus, data.snapshot) == (
            3,
            "running",
            {"id": "cma_1"},
        )


class TestErrorsAndTerminalSets:
    def test_error_codes_cover_the_reference_and_the_guide(self) -> None:
        """The 23 reference codes plus the three story_plan_* codes; field-note codes are known too."""
        assert len(ERROR_CODES) == 26
        assert ERROR_CODES["insufficient_credits"] == 402
        assert ERROR_CODES["story_plan_state_invalid"] == 409
        assert KNOWN_ERROR_CODES["project_precondition_failed"] == 409
        assert KNOWN_ERROR_CODES["cast_precondition_failed"] == 409

    @pytest.mark.parametrize(
        ("status", "ambiguous"),
        [
            (408, True),
            (425, True),
            (429, True),
            (500, True),
            (507, True),
            (404, False),
            (409, False),
        ],
    )
    def test_ambiguous_statuses(self, status: int, ambiguous: bool) -> None:
        """408, 425, 429 and every 5xx may have been accepted upstream; other 4xx are definitive."""
        assert is_ambiguous(status) is ambiguous

    def test_watches_wait_through_human_gates(self) -> None:
        """REQUIRES_APPROVAL and PARTIAL are not terminal; needs_recording is (a human must act)."""
        assert e.PlanStatus.REQUIRES_APPROVAL not in e.PLAN_TERMINAL
        assert e.JobStatus.PARTIAL not in e.JOB_TERMINAL
        assert e.FinalizeStage.NEEDS_RECORDING in e.FINALIZE_TERMINAL
        assert "READY" in e.SOURCE_TERMINAL and "ready" in e.MUSIC_TERMINAL


def test_inconsistent_outcomes_cannot_be_built() -> None:
    """ok:true without a status, or ok:false without an error, is refused."""
    with pytest.raises(ValidationError):
        Outcome(commandId="c", command="plan.approve", ok=True)
    with pytest.raises(ValidationError):
        Outcome(commandId="c", command="plan.approve", ok=False)


@pytest.mark.parametrize("name", sorted(COMMAND_MODELS))
def test_every_command_has_a_json_schema(name: str) -> None:
    """The AsyncAPI document derives each payload schema from the command model."""
    schema = COMMAND_MODELS[name].model_json_schema()
    assert "commandId" in schema["properties"]
