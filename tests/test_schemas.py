"""Request bodies and API resources: the documented limits hold, unknown response fields survive."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from schemas.story import requests as q
from schemas.story import resources as r
from schemas.story.envelopes import ENVELOPE_KEYS, EnvelopeError, Page, unwrap
from schemas.story.errors import ErrorEnvelope

# The vendor's published docs, vendored so a clean clone tests against them (see tests/data).
DOCS = Path(__file__).resolve().parent / "data" / "api-docs"
EXAMPLES = json.loads((DOCS / "sleeperhit-examples.json").read_text())["examples"]
REFERENCE = (DOCS / "sleeperhit-api-reference.txt").read_text()
TARGET = {"audience": "a", "objective": "o", "outcome": "x"}
TABLE_READ = {"type": "table_read"}


def _fields(err: ValidationError) -> list[str]:
    return [".".join(str(p) for p in e["loc"]) for e in err.errors()]


def _steps() -> list[dict[str, Any]]:
    return [step for recipe in EXAMPLES for step in recipe["steps"]]


class TestProjectAndSourceBodies:
    def test_project_name_of_201_chars_is_rejected_naming_name(self) -> None:
        """200 characters pass; 201 fail on `name`."""
        q.ProjectCreate(name="x" * 200)
        with pytest.raises(ValidationError) as err:
            q.ProjectCreate(name="x" * 201)
        assert _fields(err.value) == ["name"]

    def test_description_over_4000_chars_is_rejected(self) -> None:
        """description is at most 4000 characters."""
        with pytest.raises(ValidationError) as err:
            q.ProjectCreate(name="x", description="d" * 4001)
        assert _fields(err.value) == ["description"]

    def test_inline_content_limit_counts_utf8_bytes_not_characters(self) -> None:
        """999,999 bytes of 2-byte text pass; 1,000,001 bytes fail on `content`."""
        q.SourceCreate(type="text", content="é" * 499_999 + "a")  # 999,999 bytes
        q.SourceCreate(type="markdown", content="a" * 1_000_000)  # exactly the limit
        with pytest.raises(ValidationError, match="1000001 bytes") as err:
            q.SourceCreate(type="text", content="é" * 500_000 + "a")  # 500,001 chars
        assert _fields(err.value) == ["content"]

    def test_text_source_without_content_is_rejected_naming_content(self) -> None:
        """text/markdown sources need inline content."""
        with pytest.raises(ValidationError) as err:
            q.SourceCreate(type="markdown")
        assert _fields(err.value) == ["content"]

    def test_url_source_needs_an_http_uri(self) -> None:
        """url/pdf sources need an absolute http(s) uri, and the error names `uri`."""
        with pytest.raises(ValidationError, match="uri is required") as err:
            q.SourceCreate(type="url")
        assert _fields(err.value) == ["uri"]
        with pytest.raises(ValidationError, match="http or https"):
            q.SourceCreate(type="pdf", uri="ftp://example.com/a.pdf")
        assert q.SourceCreate(type="pdf", uri="https://example.com/a.pdf").uri

    def test_label_over_200_chars_is_rejected(self) -> None:
        """label is at most 200 characters."""
        with pytest.raises(ValidationError) as err:
            q.SourceCreate(type="text", content="c", label="l" * 201)
        assert _fields(err.value) == ["label"]

    def test_patch_body_keeps_explicit_null_and_omits_unset(self) -> None:
        """`description: null` clears on PATCH, so it is sent; unset fields are not."""
        assert q.ProjectUpdate(description=None).to_body() == {"description": None}

    def test_unknown_body_field_is_named(self) -> None:
        """A typo is rejected by name instead of silently dropped."""
        with pytest.raises(ValidationError) as err:
            q.ProjectCreate.model_validate({"name": "x", "nmae": "y"})
        assert _fields(err.value) == ["nmae"]


class TestPlanAndJobBodies:
    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"target": TARGET, "artifactRequests": [TABLE_READ] * 7}, "artifactRequests"),
            ({"target": TARGET, "artifactRequests": []}, "artifactRequests"),
            (
                {"target": TARGET, "artifactRequests": [TABLE_READ], "sourceIds": ["s"] * 21},
                "sourceIds",
            ),
            (
                {"target": {**TARGET, "audience": "a" * 201}, "artifactRequests": [TABLE_READ]},
                "target.audience",
            ),
            ({"target": {"audience": "a"}, "artifactRequests": [TABLE_READ]}, "target.objective"),
            (
                {"target": TARGET, "artifactRequests": [{**TABLE_READ, "durationSeconds": 4}]},
                "artifactRequests.0.durationSeconds",
            ),
            (
                {"target": TARGET, "artifactRequests": [{**TABLE_READ, "aspectRatio": "wide"}]},
                "artifactRequests.0.aspectRatio",
            ),
            (
                {"target": TARGET, "artifactRequests": [{**TABLE_READ, "notes": "n" * 2001}]},
                "artifactRequests.0.notes",
            ),
            (
                {
                    "target": TARGET,
                    "artifactRequests": [TABLE_READ],
                    "styleConstraints": {"brandSafety": ["b"] * 11},
                },
                "styleConstraints.brandSafety",
            ),
            ({"target": TARGET, "artifactRequests": [TABLE_READ], "title": "t" * 201}, "title"),
        ],
        ids=[
            "7-artifacts",
            "0-artifacts",
            "21-sources",
            "audience-201",
            "objective-missing",
            "duration-4",
            "aspect-ratio",
            "notes-2001",
            "style-array-11",
            "title-201",
        ],
    )
    def test_plan_limits_are_enforced_and_name_the_field(
        self, body: dict[str, Any], field: str
    ) -> None:
        """Plan bodies enforce the documented limits and name the field."""
        with pytest.raises(ValidationError) as err:
            q.PlanCreate.model_validate(body)
        assert field in _fields(err.value)

    def test_plan_at_the_limits_is_accepted(self) -> None:
        """6 artifact requests, 20 sources, 10-item style arrays and a creativeBrief pass."""
        plan = q.PlanCreate.model_validate(
            {
                "target": TARGET,
                "artifactRequests": [{**TABLE_READ, "durationSeconds": 5, "aspectRatio": "9:16"}]
                * 6,
                "sourceIds": ["s"] * 20,
                "styleConstraints": {"forbiddenVisuals": ["f"] * 10},
                "creativeBrief": "a brief",
            }
        )
        assert len(plan.to_body()["artifactRequests"]) == 6

    def test_job_with_7_artifact_requests_is_rejected(self) -> None:
        """A job overrides at most 6 artifact requests."""
        with pytest.raises(ValidationError) as err:
            q.JobCreate(
                storyPlanId="pl", artifactRequests=[q.ArtifactRequest(type="table_read")] * 7
            )
        assert _fields(err.value) == ["artifactRequests"]


class TestArtifactBodies:
    def test_refine_needs_a_non_blank_instruction(self) -> None:
        """An empty or blank instruction is rejected naming `instruction`."""
        for instruction in ("", "   "):
            with pytest.raises(ValidationError) as err:
                q.ArtifactRefine(instruction=instruction)
            assert _fields(err.value) == ["instruction"]

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"op": "remove"}, "id"),
            ({"op": "update", "label": "x"}, "id"),
            ({"op": "add", "label": "knock"}, "entryIndex"),
            ({"op": "add", "entryIndex": 3}, "prompt"),
            ({"op": "add", "entryIndex": 3, "label": "k", "volume": 1.5}, "volume"),
            ({"op": "explode", "id": "sfx_1"}, "op"),
        ],
    )
    def test_sfx_op_rules_name_the_missing_field(self, body: dict[str, Any], field: str) -> None:
        """remove/update need the cue id; add needs entryIndex and a label or prompt; volume is 0..1."""
        with pytest.raises(ValidationError) as err:
            q.ArtifactSfx.model_validate(body)
        assert field in _fields(err.value)

    def test_valid_sfx_ops_pass(self) -> None:
        """The reference's add, update and remove bodies validate."""
        q.ArtifactSfx(op="add", entryIndex=12, prompt="knocks", triggerOffset="before")
        q.ArtifactSfx(op="update", id="sfx_1", regenerate=True)
        assert q.ArtifactSfx(op="remove", id="sfx_1").to_body() == {"op": "remove", "id": "sfx_1"}

    def test_cast_needs_a_style_or_entries(self) -> None:
        """An empty cast request does nothing, so it is rejected."""
        with pytest.raises(ValidationError) as err:
            q.ArtifactCast()
        assert _fields(err.value) == ["entries"]
        assert q.ArtifactCast(entries=[q.CastEntry(character="MAYA", voiceId="v")]).entries

    def test_voice_modification_range_is_inclusive_and_ordered(self) -> None:
        """start == end is one line; end before start is rejected; effect defaults to autotune."""
        one = q.ArtifactVoiceModification(startEntryIndex=4, endEntryIndex=4)
        assert one.effect == "autotune" and one.to_body() == {
            "startEntryIndex": 4,
            "endEntryIndex": 4,
        }
        with pytest.raises(ValidationError) as err:
            q.ArtifactVoiceModification(startEntryIndex=5, endEntryIndex=4)
        assert _fields(err.value) == ["endEntryIndex"]

    def test_voice_recast_needs_character_voice_id_and_name(self) -> None:
        """character, voiceId and voiceName are required."""
        with pytest.raises(ValidationError) as err:
            q.ArtifactVoice.model_validate({"character": "NARRATOR"})
        assert set(_fields(err.value)) == {"voiceId", "voiceName"}


BODY_MODELS: dict[tuple[str, str], type[q.RequestModel]] = {
    ("POST", "/story-projects"): q.ProjectCreate,
    ("POST", "/story-projects/{projectId}/sources"): q.SourceCreate,
    ("POST", "/story-projects/{projectId}/story-plans"): q.PlanCreate,
    ("POST", "/story-projects/{projectId}/series-bible"): q.SeriesBibleGenerate,
    ("POST", "/story-jobs"): q.JobCreate,
    ("POST", "/artifacts/{artifactId}/refine"): q.ArtifactRefine,
    ("POST", "/artifacts/{artifactId}/finalize"): q.ArtifactFinalize,
    ("POST", "/artifacts/{artifactId}/voice-modification"): q.ArtifactVoiceModification,
    ("POST", "/artifacts/{artifactId}/avatar"): q.ArtifactAvatar,
    ("POST", "/artifacts/{artifactId}/cast"): q.ArtifactCast,
}
# The docs' "idempotent-post-recipe" sends no storyPlanId (required by the reference) and a
# table_read mode "markdown" (not a mode): our model rejects it rather than send a doomed request.
BROKEN_RECIPES = {"idempotent-post-recipe"}


class TestDocumentedRequestExamples:
    def test_every_documented_request_body_validates(self) -> None:
        """Each request body of the published recipes validates and re-serialises unchanged."""
        checked = 0
        for recipe in EXAMPLES:
            if recipe["id"] in BROKEN_RECIPES:
                continue
            for step in recipe["steps"]:
                request = step["request"]
                model = BODY_MODELS.get((request["method"], request["path"]))
                if model is None or "body" not in request:
                    continue
                assert model.model_validate(request["body"]).to_body() == request["body"]
                checked += 1
        assert checked == 12

    def test_the_broken_job_recipe_is_rejected_naming_its_fields(self) -> None:
        """The recipe without storyPlanId fails on storyPlanId and the bogus mode."""
        (recipe,) = [r for r in EXAMPLES if r["id"] == "idempotent-post-recipe"]
        with pytest.raises(ValidationError) as err:
            q.JobCreate.model_validate(recipe["steps"][0]["request"]["body"])
        assert set(_fields(err.value)) == {"storyPlanId", "artifactRequests.0.mode"}


def _reference_json() -> list[dict[str, Any]]:
    """Every complete JSON object on its own line of the API reference."""
    found = []
    for line in REFERENCE.splitlines():
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # examples with "..." placeholders
    return found


RESPONSE_MODELS: dict[str, type[BaseModel]] = {
    "project": r.Project,
    "source": r.Source,
    "job": r.Job,
    "credits": r.CreditBalance,
    "document": r.SeriesBible,
    "storyJob": r.Job,
    "script": r.Script,
    "sfx": r.Sfx,
    "error": ErrorEnvelope,
}


class TestResources:
    def test_unknown_fields_are_kept_through_a_json_round_trip(self) -> None:
        """Fields the API adds survive parse -> JSON -> parse, at the top and nested."""
        raw = {
            "id": "cmj_1",
            "status": "RUNNING",
            "newThing": {"a": 1},
            "artifacts": [{"id": "cma_1", "status": "READY", "manifest": {"hologramUrl": "h"}}],
        }
        job = r.Job.model_validate_json(r.Job.model_validate(raw).model_dump_json())
        dumped = job.model_dump()
        assert dumped["newThing"] == {"a": 1}
        assert dumped["artifacts"][0]["manifest"]["hologramUrl"] == "h"

    def test_source_without_status_is_ready(self) -> None:
        """Field notes: a READY source may omit `status`; a present status is kept."""
        assert r.Source.model_validate({"id": "cmq_1"}).status == "READY"
        assert r.Source.model_validate({"id": "cmq_1", "status": "PENDING"}).status == "PENDING"

    def test_unknown_status_values_parse(self) -> None:
        """A status the API adds tomorrow does not break parsing today."""
        assert r.Plan.model_validate({"id": "p", "status": "ARCHIVED"}).status == "ARCHIVED"

    def test_artifact_counters_default_and_tolerate_null(self) -> None:
        """currentVersion starts at 1 and refineCount at 0, also when the API sends null."""
        artifact = r.Artifact.model_validate({"id": "a", "status": "READY", "currentVersion": None})
        assert (artifact.currentVersion, artifact.refineCount) == (1, 0)

    def test_get_artifact_envelope_with_finalize_parses(self) -> None:
        """Field notes: GET /artifacts/{id} nests under `artifact`; finalize state is typed."""
        payload = {
            "artifact": {
                "id": "cma_1",
                "status": "READY",
                "refineCount": 2,
                "currentVersion": 3,
                "manifest": {
                    "audio": {
                        "recordingUrl": "https://cdn/x.mp3",
                        "recordingDurationMs": 61000,
                        "finalize": {"status": "complete", "error": None},
                        "voiceMap": {"NARRATOR": {"voiceId": "v"}},
                    },
                    "video": {"status": "rendering", "url": None},
                },
            }
        }
        artifact = r.Artifact.model_validate(unwrap(payload, ENVELOPE_KEYS["artifact"]))
        assert artifact.manifest is not None and artifact.manifest.audio is not None
        assert artifact.manifest.audio.finalize is not None
        assert artifact.manifest.audio.finalize.status == "complete"
        assert artifact.manifest.audio.recordingDurationMs == 61000
        assert artifact.manifest.video is not None and artifact.manifest.video.status == "rendering"
        assert artifact.currentVersion == 3

    def test_documented_response_examples_parse(self) -> None:
        """Every enveloped response example of the recipes and the reference parses."""
        examples = [s["responseExample"] for s in _steps() if "responseExample" in s]
        examples += _reference_json()
        parsed: set[str] = set()
        for example in examples:
            for key, model in RESPONSE_MODELS.items():
                if key in example:
                    model.model_validate(example if key == "error" else example[key])
                    parsed.add(key)
        assert parsed == set(RESPONSE_MODELS)

    def test_ready_job_example_exposes_its_artifact_manifest(self) -> None:
        """The reference's READY job: artifacts[0].manifest.video.status is not_rendered."""
        (ready,) = [
            ex["job"] for ex in _reference_json() if ex.get("job", {}).get("status") == "READY"
        ]
        job = r.Job.model_validate(ready)
        manifest = job.artifacts[0].manifest
        assert manifest is not None and manifest.video is not None
        assert manifest.video.status == "not_rendered"
        assert manifest.theaterUrl and manifest.theaterUrl.startswith("https://")

    def test_unenveloped_action_answers_parse(self) -> None:
        """The artifact actions answer bare objects: voice modification, avatar, cast, finalize."""
        by_id = {
            recipe["id"]: [s["responseExample"] for s in recipe["steps"] if "responseExample" in s]
            for recipe in EXAMPLES
        }
        vm = r.VoiceModificationResult.model_validate(by_id["modify-voice-range"][0])
        avatar, cast_result, cast = by_id["recast-avatars"]
        finalize = r.FinalizeResult.model_validate(by_id["finalize-audio-mp3"][0])
        assert vm.modificationId == "cmvm..."
        assert r.AvatarResult.model_validate(avatar).status == "queued"
        assert r.CastResult.model_validate(cast_result).avatars[0]["character"] == "MAYA"
        assert r.Cast.model_validate(cast).cast[0].avatarStatus == "ready"
        assert finalize.finalize is not None and finalize.finalize.status == "queued"

    def test_digest_claims_and_evidence_are_typed(self) -> None:
        """A READY digest's claims and evidence parse (concepts: claimIndex links them)."""
        concepts = (DOCS / "sleeperhit-concepts.txt").read_text()
        match = re.search(r'\{ "summary": "3-6 sentence.*?"rightsNotes": \[[^\]]*\] \}', concepts)
        assert match is not None
        digest = r.Digest.model_validate_json(match.group(0))
        assert digest.claims[0].kind == "estimate"
        assert digest.evidence[0].claimIndex == 0


class TestEnvelopes:
    def test_unwrap_returns_the_object_under_the_key(self) -> None:
        """`{"coverage": null}` unwraps to None; a bare object with an id is returned as is."""
        assert unwrap({"coverage": None}, "coverage") is None
        assert unwrap({"id": "cma_1", "status": "READY"}, "artifact") == {
            "id": "cma_1",
            "status": "READY",
        }

    def test_unwrap_rejects_an_unexpected_shape(self) -> None:
        """A payload with neither the key nor an id is named as the wrong envelope."""
        with pytest.raises(EnvelopeError, match="'project'"):
            unwrap({"projects": []}, "project")

    def test_page_parses_items_and_cursor(self) -> None:
        """Items are validated; a null or empty nextCursor means the last page."""
        page = Page.parse(
            {"projects": [{"id": "p1"}, {"id": "p2"}], "nextCursor": "c2"}, "projects", r.Project
        )
        assert [p.id for p in page.items] == ["p1", "p2"] and page.next_cursor == "c2"
        assert (
            Page.parse({"projects": [], "nextCursor": None}, "projects", r.Project).next_cursor
            is None
        )
