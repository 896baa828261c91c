"""How a story job runs: RESERVED -> RUNNING, artifacts generated, settled, PARTIAL -> READY.

Every step is a scheduled transition (see world_base.Scheduler), applied lazily on the next read.
Failure triggers: a planned artifact type fails with artifact_type_unavailable; an artifact
request whose `notes` contain "fail" fails with artifact_generation_failed. A job whose artifacts
all failed is FAILED; credits of a failed artifact are released, of a READY one settled.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from bridge.providers.story.sandbox.world_base import iso
from bridge.providers.story.sandbox.world_content import (
    SCENES,
    TABLE_READ_CREDITS,
    cast_for,
    table_read_manifest,
)
from bridge.providers.story.sandbox.world_state import ArtifactRec, JobRec, WorldState, view

REFINE_CREDITS = 8
SHARE_DAYS = 30


class JobRunMixin(WorldState):
    # -- views ----------------------------------------------------------------------------------

    def _artifact_view(self, art: ArtifactRec) -> dict[str, Any]:
        return view(art.body)

    def _job_view(self, job: JobRec) -> dict[str, Any]:
        body = view(job.body)
        body["credits"] = job.reservation.view()
        body["artifacts"] = [self._artifact_view(a) for a in job.artifacts]
        return body

    # -- run ------------------------------------------------------------------------------------

    def _job_start(self, job: JobRec, at: float) -> None:
        if job.body["status"] != "RESERVED":
            return
        job.body.update(status="RUNNING", startedAt=iso(at), modelUsed="sandbox-table-read")
        job.body["progress"] = {"completed": 0, "total": len(job.body["artifactRequests"])}
        self.stamp(job.body, at)
        generate = self.durations.job_generate
        if job.kind == "refine":
            art = self.artifacts[str(job.refine_target)]
            art.body["status"] = "RUNNING"
            self.stamp(art.body, at)
            job.artifacts.append(art)
            self.scheduler.at(at + generate, lambda when: self._artifact_done(job, art, when))
            return
        available = self.available_artifact_types()
        requests = job.body["artifactRequests"]
        for index, request in enumerate(requests):
            art = self._new_artifact(job, request, at)
            art.credits = TABLE_READ_CREDITS if request["type"] in available else 0
            due = at + generate * (index + 1) / len(requests)
            self.scheduler.at(due, self._finisher(job, art))

    def _finisher(self, job: JobRec, art: ArtifactRec) -> Callable[[float], None]:
        return lambda when: self._artifact_done(job, art, when)

    def _new_artifact(self, job: JobRec, request: dict[str, Any], at: float) -> ArtifactRec:
        art_id = self.ids.next("cma")
        body = {
            "id": art_id,
            "storyJobId": job.id,
            "type": request["type"],
            "status": "RUNNING",
            "manifest": None,
            "currentVersion": 1,
            "refineCount": 0,
            "tableReadShareLinkId": None,
            "failureCode": None,
            "failureMessage": None,
            "createdAt": iso(at),
            "updatedAt": iso(at),
        }
        art = ArtifactRec(self.next_seq(), art_id, job.id, request, body, cast=cast_for(request))
        art.music = {"status": "none", "coveragePercent": None, "totalScenes": SCENES}
        self.artifacts[art_id] = art
        job.artifacts.append(art)
        return art

    def _artifact_done(self, job: JobRec, art: ArtifactRec, at: float) -> None:
        if job.body["status"] not in ("RUNNING", "PARTIAL") or art.body["status"] != "RUNNING":
            return
        if job.kind == "refine":
            body = art.body
            body["currentVersion"] += 1
            body["refineCount"] += 1
            body["manifest"]["revision"] = body["currentVersion"]
            art.revisions.append(copy.deepcopy(body["manifest"]))
            body["status"] = "READY"
            self.ledger.settle(job.reservation, REFINE_CREDITS)
        elif art.request["type"] not in self.available_artifact_types():
            self._fail_artifact(
                job, art, "artifact_type_unavailable", "is planned, not yet available"
            )
        elif "fail" in str(art.request.get("notes", "")).lower():
            self._fail_artifact(job, art, "artifact_generation_failed", "adapter failed to render")
        else:
            expires = iso(at + SHARE_DAYS * 86400)
            manifest = table_read_manifest(art.id, expires, art.cast)
            manifest["revision"] = 1
            art.body.update(
                status="READY", manifest=manifest, tableReadShareLinkId=self.ids.next("cmsl")
            )
            art.revisions = [copy.deepcopy(manifest)]
            self.ledger.settle(job.reservation, art.credits)
        self.stamp(art.body, at)
        self._job_progress(job, at)

    def _fail_artifact(self, job: JobRec, art: ArtifactRec, code: str, why: str) -> None:
        art.body.update(
            status="FAILED", failureCode=code, failureMessage=f"{art.request['type']} {why}."
        )
        self.ledger.release(job.reservation, art.credits)

    def _job_progress(self, job: JobRec, at: float) -> None:
        statuses = [a.body["status"] for a in job.artifacts]
        done = sum(1 for s in statuses if s in ("READY", "FAILED"))
        job.body["progress"] = {"completed": done, "total": len(statuses)}
        if done == len(statuses):
            if "READY" in statuses:
                job.body["status"] = "READY"
            else:
                failed = job.artifacts[0].body
                job.body.update(
                    status="FAILED",
                    failureCode=failed["failureCode"],
                    failureMessage=failed["failureMessage"],
                )
            job.body["completedAt"] = iso(at)
            self.ledger.release(job.reservation)
        elif "READY" in statuses:
            job.body["status"] = "PARTIAL"
        self.stamp(job.body, at)
