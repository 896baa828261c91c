"""Artifacts: read (with ?revision=N), the READY/FAILED guard every operation uses, and refine."""

from __future__ import annotations

import copy
from typing import Any

from bridge.providers.story.sandbox.errors import SandboxError
from bridge.providers.story.sandbox.world_base import iso
from bridge.providers.story.sandbox.world_jobrun import REFINE_CREDITS
from bridge.providers.story.sandbox.world_jobs import JobsMixin
from bridge.providers.story.sandbox.world_state import ArtifactRec
from schemas.story.requests import ArtifactRefine


class ArtifactsMixin(JobsMixin):
    # -- artifacts ------------------------------------------------------------------------------

    def _artifact(self, artifact_id: str, *, ready: bool = True) -> ArtifactRec:
        art = self.artifacts.get(artifact_id)
        if art is None or self.projects[self.jobs[art.job_id].project_id].deleted:
            raise SandboxError(
                "artifact_not_found",
                f"Artifact {artifact_id} does not exist or is owned by another account.",
            )
        status = art.body["status"]
        if ready and status == "FAILED":
            raise SandboxError(
                "artifact_generation_failed",
                f"Artifact {artifact_id} failed: {art.body['failureCode']}.",
                details={"status": status, "failureCode": art.body["failureCode"]},
            )
        if ready and status != "READY":
            raise SandboxError(
                "artifact_not_ready",
                f"Artifact {artifact_id} is {status}; poll until READY.",
                details={"status": status},
            )
        return art

    def get_artifact(self, artifact_id: str, revision: str | None = None) -> dict[str, Any]:
        with self.lock:
            self.sync()
            art = self._artifact(artifact_id, ready=False)
            body = self._artifact_view(art)
            if revision is None or revision == "":
                return body
            try:
                number = int(revision)
            except ValueError:
                number = 0
            if not 1 <= number <= len(art.revisions):
                raise SandboxError(
                    "validation_failed",
                    f"revision: {revision} is not a revision of artifact {artifact_id} "
                    f"(1..{len(art.revisions)})",
                    details={"field": "revision"},
                )
            if number < len(art.revisions):
                body["manifest"] = copy.deepcopy(art.revisions[number - 1])
            body["revision"] = number
            return body

    def refine_artifact(self, artifact_id: str, req: ArtifactRefine) -> dict[str, Any]:
        with self.lock:
            now = self.sync()
            art = self._artifact(artifact_id)
            source_job = self.jobs[art.job_id]
            reservation = self.ledger.reserve(REFINE_CREDITS)
            quote = {
                "currency": "studio_credits",
                "total": REFINE_CREDITS,
                "lineItems": [{"kind": "refine", "label": "Table read refine", "credits": 8}],
                "notes": [],
                "computedAt": iso(now),
            }
            request = {**art.request, "instruction": req.instruction}
            request["scope"] = req.scope.value if req.scope else "auto"
            job = self._new_job(
                source_job.project_id,
                source_job.plan_id,
                [request],
                quote,
                reservation,
                now,
                refine_target=art,
            )
            return self._job_view(job)
