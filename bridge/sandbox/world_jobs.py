"""Story jobs and their artifacts: reserve, run, settle per artifact, cancel, refine in place."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from bridge.sandbox.errors import SandboxError
from bridge.sandbox.world_base import iso, paginate
from bridge.sandbox.world_content import (
    SCENES,
    TABLE_READ_CREDITS,
    cast_for,
    quote_for,
    table_read_manifest,
)
from bridge.sandbox.world_state import ArtifactRec, JobRec, WorldState, view
from schemas.requests import ArtifactRefine, JobCreate

CANCELABLE = ["PENDING", "RESERVED", "RUNNING"]
REFINE_CREDITS = 8
SHARE_DAYS = 30


class JobsMixin(WorldState):
    # -- views ----------------------------------------------------------------------------------

    def _artifact_view(self, art: ArtifactRec) -> dict[str, Any]:
        return view(art.body)

    def _job_view(self, job: JobRec) -> dict[str, Any]:
        body = view(job.body)
        body["credits"] = job.reservation.view()
        body["artifacts"] = [self._artifact_view(a) for a in job.artifacts]
        return body

    # -- create ---------------------------------------------------------------------------------

    def create_job(self, req: JobCreate) -> dict[str, Any]:
        with self.lock:
            now = self.sync()
            plan = self.plans.get(req.storyPlanId)
            if plan is None or self.projects[plan.project_id].deleted:
                raise SandboxError(
                    "story_job_not_found",
                    f"Story plan {req.storyPlanId} does not exist or is owned by another account.",
                )
            status = plan.body["status"]
            if status != "APPROVED":
                raise SandboxError(
                    "story_job_state_invalid",
                    f"Plan {plan.id} is {status}; a job needs an APPROVED plan.",
                    details={"status": status, "allowed": ["APPROVED"]},
                )
            if req.projectId is not None and req.projectId != plan.project_id:
                raise SandboxError(
                    "validation_failed",
                    f"projectId: {req.projectId} does not match the plan's project {plan.project_id}",
                    details={"field": "projectId"},
                )
            requests = (
                [r.model_dump(mode="json", exclude_none=True) for r in req.artifactRequests]
                if req.artifactRequests
                else copy.deepcopy(plan.body["artifactRequests"])
            )
            quote = quote_for(
                requests, len(plan.body["sourceIds"]), self.available_artifact_types(), iso(now)
            )
            reservation = self.ledger.reserve(int(quote["total"]))
            job = self._new_job(plan.project_id, plan.id, requests, quote, reservation, now)
            plan.jobs.append(job)
            return self._job_view(job)

    def _new_job(
        self,
        project_id: str,
        plan_id: str,
        requests: list[dict[str, Any]],
        quote: dict[str, Any],
        reservation: Any,
        now: float,
        refine_target: ArtifactRec | None = None,
    ) -> JobRec:
        job_id = self.ids.next("cmj")
        body = {
            "id": job_id,
            "projectId": project_id,
            "storyPlanId": plan_id,
            "status": "RESERVED",
            "artifactRequests": requests,
            "quote": quote,
            "creditReservationId": reservation.id,
            "progress": None,
            "modelUsed": None,
            "failureCode": None,
            "failureMessage": None,
            "currentVersion": 1,
            "startedAt": None,
            "completedAt": None,
            "createdAt": iso(now),
            "updatedAt": iso(now),
        }
        job = JobRec(self.next_seq(), job_id, project_id, plan_id, body, reservation)
        if refine_target is not None:
            job.kind, job.refine_target = "refine", refine_target.id
            body["refineOf"] = refine_target.id
        self.jobs[job_id] = job
        self.job_list.append(job)
        self.projects[project_id].jobs.append(job)
        self.scheduler.at(now + self.durations.job_start, lambda at: self._job_start(job, at))
        return job

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

    # -- read, list, cancel ---------------------------------------------------------------------

    def _job(self, job_id: str) -> JobRec:
        job = self.jobs.get(job_id)
        if job is None or self.projects[job.project_id].deleted:
            raise SandboxError(
                "story_job_not_found",
                f"Story job {job_id} does not exist, was deleted, or is owned by another account.",
            )
        return job

    def get_job(self, job_id: str) -> dict[str, Any]:
        with self.lock:
            self.sync()
            return self._job_view(self._job(job_id))

    def job_artifacts(self, job_id: str) -> list[dict[str, Any]]:
        with self.lock:
            self.sync()
            return [self._artifact_view(a) for a in self._job(job_id).artifacts]

    def list_jobs(self, query: Mapping[str, str]) -> tuple[list[dict[str, Any]], str | None]:
        """Filtered through the per-plan or per-project index, never a scan of every job."""
        with self.lock:
            self.sync()
            plan_id, project_id = query.get("storyPlanId"), query.get("projectId")
            index: list[JobRec]
            if plan_id:
                plan = self.plans.get(plan_id)
                index = plan.jobs if plan is not None else []
            elif project_id:
                project = self.projects.get(project_id)
                index = project.jobs if project is not None and not project.deleted else []
            else:
                index = self.job_list

            def keep(job: JobRec) -> bool:
                if project_id and job.project_id != project_id:
                    return False
                return not self.projects[job.project_id].deleted

            page, cursor = paginate(index, query, keep)
            return [self._job_view(j) for j in page], cursor

    def cancel_job(self, job_id: str) -> dict[str, Any]:
        with self.lock:
            now = self.sync()
            job = self._job(job_id)
            status = job.body["status"]
            if status == "CANCELED":
                return self._job_view(job)
            if status not in CANCELABLE:
                raise SandboxError(
                    "story_job_state_invalid",
                    f"Job {job_id} is {status}; only {', '.join(CANCELABLE)} jobs can be canceled.",
                    details={"status": status, "allowed": CANCELABLE},
                )
            job.body.update(status="CANCELED", completedAt=iso(now))
            for art in job.artifacts:
                if art.body["status"] in ("PENDING", "RUNNING"):
                    if job.kind == "refine":
                        art.body["status"] = "READY"  # the previous revision stays live
                    else:
                        art.body.update(
                            status="FAILED",
                            failureCode="job_canceled",
                            failureMessage="The job was canceled.",
                        )
                    self.stamp(art.body, now)
            self.ledger.release(job.reservation)
            self.stamp(job.body, now)
            return self._job_view(job)

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
