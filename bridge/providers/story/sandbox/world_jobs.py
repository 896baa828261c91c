"""Story jobs: create (reserving the quote), read, list (through the per-plan/project indexes), cancel."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from bridge.providers.story.sandbox.errors import SandboxError
from bridge.providers.story.sandbox.world_base import iso, paginate
from bridge.providers.story.sandbox.world_content import quote_for
from bridge.providers.story.sandbox.world_jobrun import JobRunMixin
from bridge.providers.story.sandbox.world_state import ArtifactRec, JobRec
from schemas.story.requests import JobCreate

CANCELABLE = ["PENDING", "RESERVED", "RUNNING"]


class JobsMixin(JobRunMixin):
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

    # -- seeding (benchmarks) -------------------------------------------------------------------

    def seed_jobs(self, project_id: str, count: int, status: str = "RUNNING") -> list[str]:
        """`count` jobs of `project_id` that stay in `status` until `set_job_status` moves them:
        many watchable jobs without planning each one (`storybridge bench --watches`)."""
        with self.lock:
            now = self.sync()
            ids: list[str] = []
            for _ in range(count):
                job_id = self.ids.next("cmj")
                body = {
                    "id": job_id,
                    "projectId": project_id,
                    "storyPlanId": None,
                    "status": status,
                    "currentVersion": 1,
                    "createdAt": iso(now),
                    "updatedAt": iso(now),
                }
                job = JobRec(self.next_seq(), job_id, project_id, "", body, self.ledger.reserve(0))
                self.jobs[job_id] = job
                self.job_list.append(job)
                self.projects[project_id].jobs.append(job)
                ids.append(job_id)
            return ids

    def set_job_status(self, job_id: str, status: str) -> None:
        with self.lock:
            now = self.sync()
            job = self._job(job_id)
            job.body["status"] = status
            self.stamp(job.body, now)

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
