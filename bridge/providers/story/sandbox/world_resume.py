"""Resuming a plan or job that stopped (FIELD-NOTES: `POST /story-plans|story-jobs/{id}/resume`).

Resume is the production client's recovery path: a FAILED plan is generated again; a FAILED or
PARTIAL job renders its failed artifacts again (credits reserved anew). Anything still running,
or finished well, is answered as it is (resume is idempotent). The sandbox's failure markers
(`fail` in a plan title or an artifact request's notes) fire on the first run only, so a resumed
run succeeds, which is the case a recovery path exists for.
"""

from __future__ import annotations

from typing import Any

from bridge.providers.story.sandbox.errors import SandboxError
from bridge.providers.story.sandbox.world_artifact_core import ArtifactsMixin
from bridge.providers.story.sandbox.world_base import iso
from bridge.providers.story.sandbox.world_plans import PlansMixin
from bridge.providers.story.sandbox.world_state import view

FINISHED_PLAN = ("REJECTED", "SUPERSEDED")


class ResumeMixin(PlansMixin, ArtifactsMixin):
    resumed_plans: set[str]

    def resume_plan(self, plan_id: str) -> dict[str, Any]:
        with self.lock:
            now = self.sync()
            rec = self.plans.get(plan_id)
            if rec is None or self.projects[rec.project_id].deleted:
                raise SandboxError("story_plan_not_found", f"Story plan {plan_id} does not exist.")
            body = rec.body
            if body["status"] in FINISHED_PLAN:
                raise SandboxError(
                    "story_plan_state_invalid",
                    f"Plan {plan_id} is {body['status']}; it cannot be resumed.",
                    details={"status": body["status"], "allowed": ["FAILED"]},
                )
            if body["status"] == "FAILED":
                self.resumed_plans.add(rec.id)
                body.update(status="PENDING", failureCode=None, failureMessage=None)
                self.stamp(body, now)
                start = now + self.durations.plan_start
                self.scheduler.at(start, lambda at: self._plan_running(rec, at))
                self.scheduler.at(
                    start + self.durations.plan_generate, lambda at: self._plan_done(rec, at)
                )
            return view(body)

    def resume_job(self, job_id: str) -> dict[str, Any]:
        with self.lock:
            now = self.sync()
            job = self._job(job_id)
            status = job.body["status"]
            if status == "CANCELED":
                raise SandboxError(
                    "story_job_state_invalid",
                    f"Job {job_id} was canceled; it cannot be resumed.",
                    details={"status": status, "allowed": ["FAILED", "PARTIAL"]},
                )
            failed = [a for a in job.artifacts if a.body["status"] == "FAILED"]
            available = self.available_artifact_types()
            retry = [a for a in failed if a.request["type"] in available]
            if status in ("FAILED", "PARTIAL", "READY") and retry:
                job.reservation = self.ledger.reserve(sum(a.credits for a in retry))
                job.body.update(status="RUNNING", failureCode=None, failureMessage=None)
                job.body["completedAt"] = None
                for order, art in enumerate(retry, start=1):
                    art.request = {**art.request, "notes": None}  # markers fire once
                    art.body.update(status="RUNNING", failureCode=None, failureMessage=None)
                    self.stamp(art.body, now)
                    due = now + self.durations.job_generate * order / len(retry)
                    self.scheduler.at(due, self._finisher(job, art))
                self._job_progress(job, now)
                job.body["status"] = (
                    "RUNNING"
                    if not any(a.body["status"] == "READY" for a in job.artifacts)
                    else "PARTIAL"
                )
                job.body["resumedAt"] = iso(now)
                self.stamp(job.body, now)
            return self._job_view(job)
