"""The wire contract and API resource models: limits enforced, unknown fields kept."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cloudevents.core.formats.json import JSONFormat
from pydantic import ValidationError

from schemas import requests as q
from schemas import resources as r
from schemas.commands import COMMAND_MODELS, COMMAND_ROUTES, UnknownCommand, parse_command
from schemas.errors import ERROR_CODES
from schemas.events import CloudEvent, ResourceEventData
from schemas.outcome import Outcome, OutcomeError

EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "api-docs" / "sleeperhit-examples.json"
TARGET = {"audience": "a", "objective": "o", "outcome": "x"}


def _fields(err: ValidationError) -> list[str]:
    return [".".join(str(p) for p in e["loc"]) for e in err.errors()]


class TestRequestLimits:
    def test_project_name_over_200_chars_is_rejected_naming_name(self) -> None:
        """A 201-character project name fails on `name`."""
        with pytest.raises(ValidationError) as err:
            q.ProjectCreate(name="x" * 201)
        assert _fields(err.value) == ["name"]

    def test_inline_content_limit_counts_utf8_bytes(self) -> None:
        """1,000,000 bytes pass; one more multibyte character over the limit fails."""
        q.SourceCreate(type="text", content="é" * 500_000)  # exactly 1,000,000 bytes
        with pytest.raises(ValidationError, match="1000002 bytes"):
            q.SourceCreate(type="text", content="é" * 500_001)

    def test_url_source_needs_an_http_uri(self) -> None:
        """url/pdf sources need an absolute http(s) uri."""
        with pytest.raises(ValidationError, match="uri is required"):
            q.SourceCreate(type="url")
        with pytest.raises(ValidationError, match="http or https"):
            q.SourceCreate(type="pdf", uri="ftp://example.com/a.pdf")

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            (
                {"target": TARGET, "artifactRequests": [{"type": "table_read"}] * 7},
                "artifactRequests",
            ),
            ({"target": TARGET, "artifactRequests": []}, "artifactRequests"),
            (
                {
                    "target": TARGET,
                    "artifactRequests": [{"type": "table_read"}],
                    "sourceIds": ["s"] * 21,
                },
                "sourceIds",
            ),
            (
                {
                    "target": {**TARGET, "audience": "a" * 201},
                    "artifactRequests": [{"type": "table_read"}],
                },
                "target.audience",
            ),
            (
                {
                    "target": TARGET,
                    "artifactRequests": [{"type": "table_read", "durationSeconds": 4}],
                },
                "artifactRequests.0.durationSeconds",
            ),
            (
                {
                    "target": TARGET,
                    "artifactRequests": [{"type": "table_read", "aspectRatio": "wide"}],
                },
                "artifactRequests.0.aspectRatio",
            ),
        ],
        ids=[
            "7-artifacts",
            "0-artifacts",
            "21-sources",
            "audience-201",
            "duration-4",
            "aspect-ratio",
        ],
    )
    def test_plan_limits(self, body: dict[str, Any], field: str) -> None:
        """Plan bodies enforce the documented limits and name the field."""
        with pytest.raises(ValidationError) as err:
            q.PlanCreate.model_validate(body)
        assert field in _fields(err.value)

    def test_patch_body_keeps_explicit_null(self) -> None:
        """`description: null` clears on PATCH, so it is sent; unset fields are not."""
        assert q.ProjectUpdate(description=None).to_body() == {"description": None}

    def test_unknown_body_field_is_named(self) -> None:
        """A typo is rejected by name instead of silently dropped."""
        with pytest.raises(ValidationError) as err:
            q.ProjectCreate.model_validate({"name": "x", "nmae": "y"})
        assert _fields(err.value) == ["nmae"]


class TestResources:
    def test_unknown_fields_are_kept(self) -> None:
        """Fields the API adds survive a parse and re-serialisation."""
        job = r.Job.model_validate({"id": "cmj_1", "status": "RUNNING", "newThing": {"a": 1}})
        assert job.model_dump()["newThing"] == {"a": 1}

    def test_source_without_status_is_ready(self) -> None:
        """Field notes: a READY source may omit `status`."""
        assert r.Source.model_validate({"id": "cmq_1"}).status == "READY"

    def test_unknown_status_values_parse(self) -> None:
        """A status the API adds tomorrow does not break parsing today."""
        assert r.Plan.model_validate({"id": "p", "status": "ARCHIVED"}).status == "ARCHIVED"

    def test_documented_examples_parse(self) -> None:
        """Every job, project, source and artifact example of the published recipes parses."""
        examples = json.loads(EXAMPLES.read_text())["examples"]
        parsed = 0
        for recipe in examples:
            for step in recipe["steps"]:
                example = step.get("responseExample") or {}
                for key, model in (("job", r.Job), ("project", r.Project), ("source", r.Source)):
                    if key in example:
                        model.model_validate(example[key])
                        parsed += 1
        assert parsed >= 5


class TestCommands:
    def test_every_contract_command_is_registered(self) -> None:
        """The 24 commands of the contract's table, no more, no less."""
        assert len(COMMAND_MODELS) == 24
        assert {n for n, route in COMMAND_ROUTES.items() if route is None} == {
            "watch.add",
            "watch.remove",
        }

    def test_command_splits_into_path_and_body(self) -> None:
        """Path parameters and commandId never leak into the request body."""
        cmd = parse_command(
            "plan.create",
            {
                "projectId": "cmp_1",
                "commandId": "c-1",
                "target": TARGET,
                "artifactRequests": [{"type": "table_read"}],
            },
        )
        assert cmd.path() == {"projectId": "cmp_1"}
        body = cmd.body()
        assert body is not None
        assert set(body.to_body()) == {"target", "artifactRequests"}

    def test_job_create_keeps_project_id_in_the_body(self) -> None:
        """job.create has no path parameter: projectId is a body field there."""
        body = parse_command("job.create", {"storyPlanId": "pl", "projectId": "p"}).body()
        assert body is not None and body.to_body() == {"storyPlanId": "pl", "projectId": "p"}

    def test_unknown_command_raises(self) -> None:
        with pytest.raises(UnknownCommand):
            parse_command("project.explode", {})

    @pytest.mark.parametrize("command_id", ["", "has space", "x" * 129, "slash/no"])
    def test_command_id_pattern_is_enforced(self, command_id: str) -> None:
        """commandId is 1..128 chars of [A-Za-z0-9._:-]."""
        with pytest.raises(ValidationError) as err:
            parse_command("project.create", {"name": "x", "commandId": command_id})
        assert _fields(err.value) == ["commandId"]

    def test_watching_a_source_needs_its_project(self) -> None:
        with pytest.raises(ValidationError, match="projectId is required"):
            parse_command("watch.add", {"resource": "source", "id": "cmq_1"})


class TestOutcomeAndEvents:
    def test_success_outcome_has_the_contract_shape(self) -> None:
        doc = Outcome.success(
            command_id="c", command="plan.approve", status=200, replayed=True, result={"x": None}
        ).to_dict()
        assert doc == {
            "commandId": "c",
            "command": "plan.approve",
            "ok": True,
            "status": 200,
            "replayed": True,
            "result": {"x": None},
        }

    def test_failure_outcome_has_the_contract_shape(self) -> None:
        error = OutcomeError(
            code="story_job_not_found", message="m", requestId="r", status=404, retryable=False
        )
        doc = Outcome.failure(command_id="c", command="job.cancel", error=error).to_dict()
        assert set(doc) == {"commandId", "command", "ok", "error"}
        assert doc["error"] == {
            "code": "story_job_not_found",
            "message": "m",
            "requestId": "r",
            "status": 404,
            "retryable": False,
        }

    def test_cloud_event_is_valid_cloudevents_1_0(self) -> None:
        """The SDK accepts our structured-mode JSON; previousStatus null survives."""
        data = ResourceEventData(
            resource="job",
            id="cmj_1",
            projectId="cmp_1",
            status="READY",
            previousStatus=None,
            snapshot={"id": "cmj_1"},
        )
        event = CloudEvent(
            id="e-1",
            source="https://sleeperhit.studio/api/v1",
            type="studio.sleeperhit.story.job.ready",
            subject="story-jobs/cmj_1",
            time=datetime(2026, 11, 23, tzinfo=UTC),
            data=data.model_dump(mode="json"),
        )
        parsed = JSONFormat().read(None, event.to_json())  # raises on an invalid event
        assert parsed.get_attributes()["specversion"] == "1.0"
        assert parsed.get_attributes()["type"] == "studio.sleeperhit.story.job.ready"
        data = parsed.get_data()
        assert isinstance(data, dict) and data["previousStatus"] is None
        assert json.loads(event.to_json())["time"] == "2026-11-23T00:00:00.000Z"


def test_error_codes_cover_the_reference_and_the_guide() -> None:
    """The 23 reference codes plus the agent guide's three story_plan_* codes."""
    assert len(ERROR_CODES) == 26
    assert ERROR_CODES["insufficient_credits"] == 402
