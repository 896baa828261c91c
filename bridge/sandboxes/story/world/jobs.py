"""Story jobs and how they run: create (reserving the quote), read, list, cancel, resume, refine.

A job runs RESERVED -> RUNNING, makes one artifact per request, renders them spread over
`job_generate`, settles each READY artifact's credits and releases a failed one's, then ends
PARTIAL -> READY (or FAILED when every artifact failed). Every step is a scheduled transition
(see `kernel`), applied lazily on the next read. Failure triggers: a planned artifact type fails
with artifact_type_unavailable; an artifact request whose `notes` contain "fail" fails with
artifact_generation_failed.

A refine is a job too: it re-generates a READY artifact in place (a new revision, 8 credits).
Resume (FIELD-NOTES: `POST /story-jobs/{id}/resume`) renders a FAILED or PARTIAL job's failed
artifacts again with credits reserved anew; the failure markers fire on the first run only, so a
resumed run succeeds. Anything still running or finished well is answered as it is.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bridge.sandboxes.story.errors import StorySandboxError
from bridge.sandboxes.story.world.account import AccountStore
from bridge.sandboxes.story.world.artifacts import ArtifactRec, ArtifactStore
from bridge.sandboxes.story.world.cast import CastStore
from bridge.sandboxes.story.world.content import (
    TABLE_READ_CREDITS,
    quote_for,
    table_read_manifest,
)
from bridge.sandboxes.story.world.kernel import Kernel, iso, stamp, view
from bridge.sandboxes.story.world.ledger import Reservation
from bridge.sandboxes.story.world.paging import paginate
from bridge.sandboxes.story.world.plans import PlanStore
from bridge.sandboxes.story.world.projects import ProjectStore
from schemas.story.requests import ArtifactRefine, JobCreate

CANCELABLE = ["PENDING", "RESERVED", "RUNNING"]
REFINE_CREDITS = 8
SHARE_DAYS = 30


@dataclass
class JobRec:
    seq: int
    id: str
    project_id: str
    plan_id: str
    body: dict[str, Any]
    reservation: Reservation
    refine_target: str | None = None  # a refine job re-generates this artifact in place
    artifacts: list[ArtifactRec] = field(default_factory=list)


class JobStore:
    def __init__(
        self,
        kernel: Kernel,
        projects: ProjectStore,
        plans: PlanStore,
        artifacts: ArtifactStore,
        cast: CastStore,
        account: AccountStore,
    ) -> None:
        self.k = kernel
        self.projects = projects
        self.plans = plans
        self.artifacts = artifacts
        self.cast = cast
        self.account = account
        self.ledger = account.ledger
        self.records: dict[str, JobRec] = {}
        self.order: list[JobRec] = []
        self.by_project: dict[str, list[JobRec]] = {}
        self.by_plan: dict[str, list[JobRec]] = {}

    def _record(self, job_id: str) -> JobRec:
        job = self.records.get(job_id)
        if job is None or not self.projects.live(job.project_id):
            raise StorySandboxError(
                "story_job_not_found",
                f"Story job {job_id} does not exist, was deleted, or is owned by another account.",
            )
        return job

    def _view(self, job: JobRec) -> dict[str, Any]:
        body = view(job.body)
        body["credits"] = job.reservation.view()
        body["artifacts"] = [view(a.body) for a in job.artifacts]
        return body

    def _add(self, job: JobRec) -> None:
        self.records[job.id] = job
        self.order.append(job)
        self.by_project.setdefault(job.project_id, []).append(job)

    def _new(
        self,
        project_id: str,
        plan_id: str,
        requests: list[dict[str, Any]],
        quote: dict[str, Any],
        reservation: Reservation,
        now: float,
        refine_target: ArtifactRec | None = None,
    ) -> JobRec:
        job_id = self.k.ids.next("cmj")
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
        job = JobRec(self.k.next_seq(), job_id, project_id, plan_id, body, reservation)
        if refine_target is not None:
            job.refine_target = refine_target.id
            body["refineOf"] = refine_target.id
        self._add(job)
        self.k.at(now + self.k.durations.job_start, lambda at: self._start(job, at))
        return job

    # -- operations -----------------------------------------------------------------------------

    def create(self, req: JobCreate) -> dict[str, Any]:
        with self.k.moment() as now:
            plan = self.plans.find(req.storyPlanId)
            if plan is None:
                raise StorySandboxError(
                    "story_job_not_found",
                    f"Story plan {req.storyPlanId} does not exist or is owned by another account.",
                )
            status = plan.body["status"]
            if status != "APPROVED":
                raise StorySandboxError(
                    "story_job_state_invalid",
                    f"Plan {plan.id} is {status}; a job needs an APPROVED plan.",
                    details={"status": status, "allowed": ["APPROVED"]},
                )
            if req.projectId is not None and req.projectId != plan.project_id:
                raise StorySandboxError(
                    "validation_failed",
                    f"projectId: {req.projectId} does not match the plan's project {plan.project_id}",
                    details={"field": "projectId"},
                )
            requests = (
                [r.model_dump(mode="json", exclude_none=True) for r in req.artifactRequests]
                if req.artifactRequests
                else copy.deepcopy(plan.body["artifactRequests"])
            )
            available = self.account.available_artifact_types()
            quote = quote_for(requests, len(plan.body["sourceIds"]), available, iso(now))
            reservation = self.ledger.reserve(int(quote["total"]))
            job = self._new(plan.project_id, plan.id, requests, quote, reservation, now)
            self.by_plan.setdefault(plan.id, []).append(job)
            return self._view(job)

    def refine(self, artifact_id: str, req: ArtifactRefine) -> dict[str, Any]:
        with self.k.moment() as now:
            art = self.artifacts.record(artifact_id)
            source_job = self.records[art.job_id]
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
            job = self._new(
                source_job.project_id,
                source_job.plan_id,
                [request],
                quote,
                reservation,
                now,
                refine_target=art,
            )
            return self._view(job)

    def get(self, job_id: str) -> dict[str, Any]:
        with self.k.moment():
            return self._view(self._record(job_id))

    def artifacts_of(self, job_id: str) -> list[dict[str, Any]]:
        with self.k.moment():
            return [view(a.body) for a in self._record(job_id).artifacts]

    def page(self, query: Mapping[str, str]) -> tuple[list[dict[str, Any]], str | None]:
        """Filtered through the per-plan or per-project index, never a scan of every job."""
        with self.k.moment():
            plan_id, project_id = query.get("storyPlanId"), query.get("projectId")
            index: list[JobRec]
            if plan_id:
                index = self.by_plan.get(plan_id, [])
            elif project_id:
                live = self.projects.live(project_id)
                index = self.by_project.get(project_id, []) if live else []
            else:
                index = self.order

            def keep(job: JobRec) -> bool:
                if project_id and job.project_id != project_id:
                    return False
                return self.projects.live(job.project_id)

            page, cursor = paginate(index, query, keep)
            return [self._view(j) for j in page], cursor

    def cancel(self, job_id: str) -> dict[str, Any]:
        with self.k.moment() as now:
            job = self._record(job_id)
            status = job.body["status"]
            if status == "CANCELED":
                return self._view(job)
            if status not in CANCELABLE:
                raise StorySandboxError(
                    "story_job_state_invalid",
                    f"Job {job_id} is {status}; only {', '.join(CANCELABLE)} jobs can be canceled.",
                    details={"status": status, "allowed": CANCELABLE},
                )
            job.body.update(status="CANCELED", completedAt=iso(now))
            for art in job.artifacts:
                if art.body["status"] in ("PENDING", "RUNNING"):
                    if job.refine_target is not None:
                        art.body["status"] = "READY"  # the previous revision stays live
                    else:
                        art.body.update(
                            status="FAILED",
                            failureCode="job_canceled",
                            failureMessage="The job was canceled.",
                        )
                    stamp(art.body, now)
            self.ledger.release(job.reservation)
            stamp(job.body, now)
            return self._view(job)

    def resume(self, job_id: str) -> dict[str, Any]:
        with self.k.moment() as now:
            job = self._record(job_id)
            status = job.body["status"]
            if status == "CANCELED":
                raise StorySandboxError(
                    "story_job_state_invalid",
                    f"Job {job_id} was canceled; it cannot be resumed.",
                    details={"status": status, "allowed": ["FAILED", "PARTIAL"]},
                )
            failed = [a for a in job.artifacts if a.body["status"] == "FAILED"]
            available = self.account.available_artifact_types()
            retry = [a for a in failed if a.request["type"] in available]
            if status in ("FAILED", "PARTIAL", "READY") and retry:
                job.reservation = self.ledger.reserve(sum(a.credits for a in retry))
                job.body.update(status="RUNNING", failureCode=None, failureMessage=None)
                job.body["completedAt"] = None
                for order, art in enumerate(retry, start=1):
                    art.request = {**art.request, "notes": None}  # markers fire once
                    art.body.update(status="RUNNING", failureCode=None, failureMessage=None)
                    stamp(art.body, now)
                    due = now + self.k.durations.job_generate * order / len(retry)
                    self.k.at(due, self._finisher(job, art))
                self._progress(job, now)
                job.body["status"] = (
                    "RUNNING"
                    if not any(a.body["status"] == "READY" for a in job.artifacts)
                    else "PARTIAL"
                )
                job.body["resumedAt"] = iso(now)
                stamp(job.body, now)
            return self._view(job)

    # -- seeding (benchmarks) -------------------------------------------------------------------

    def seed(self, project_id: str, count: int, status: str = "RUNNING") -> list[str]:
        """`count` jobs of `project_id` that stay in `status` until `set_status` moves them:
        many watchable jobs without planning each one (`storybridge bench --watches`)."""
        with self.k.moment() as now:
            ids: list[str] = []
            for _ in range(count):
                job_id = self.k.ids.next("cmj")
                body = {
                    "id": job_id,
                    "projectId": project_id,
                    "storyPlanId": None,
                    "status": status,
                    "currentVersion": 1,
                    "createdAt": iso(now),
                    "updatedAt": iso(now),
                }
                reservation = self.ledger.reserve(0)
                self._add(JobRec(self.k.next_seq(), job_id, project_id, "", body, reservation))
                ids.append(job_id)
            return ids

    def set_status(self, job_id: str, status: str) -> None:
        with self.k.moment() as now:
            job = self._record(job_id)
            job.body["status"] = status
            stamp(job.body, now)

    # -- the run --------------------------------------------------------------------------------

    def _start(self, job: JobRec, at: float) -> None:
        if job.body["status"] != "RESERVED":
            return
        job.body.update(status="RUNNING", startedAt=iso(at), modelUsed="sandbox-table-read")
        job.body["progress"] = {"completed": 0, "total": len(job.body["artifactRequests"])}
        stamp(job.body, at)
        generate = self.k.durations.job_generate
        if job.refine_target is not None:
            art = self.artifacts.records[job.refine_target]
            art.body["status"] = "RUNNING"
            stamp(art.body, at)
            job.artifacts.append(art)
            self.k.at(at + generate, self._finisher(job, art))
            return
        available = self.account.available_artifact_types()
        requests = job.body["artifactRequests"]
        for index, request in enumerate(requests):
            art = self.artifacts.new(job.id, job.project_id, request, at)
            art.credits = TABLE_READ_CREDITS if request["type"] in available else 0
            job.artifacts.append(art)
            due = at + generate * (index + 1) / len(requests)
            self.k.at(due, self._finisher(job, art))

    def _finisher(self, job: JobRec, art: ArtifactRec) -> Callable[[float], None]:
        return lambda when: self._artifact_done(job, art, when)

    def _artifact_done(self, job: JobRec, art: ArtifactRec, at: float) -> None:
        if job.body["status"] not in ("RUNNING", "PARTIAL") or art.body["status"] != "RUNNING":
            return
        if job.refine_target is not None:
            body = art.body
            body["currentVersion"] += 1
            body["refineCount"] += 1
            body["manifest"]["revision"] = body["currentVersion"]
            art.revisions.append(copy.deepcopy(body["manifest"]))
            body["status"] = "READY"
            self.ledger.settle(job.reservation, REFINE_CREDITS)
        elif art.request["type"] not in self.account.available_artifact_types():
            self._fail(job, art, "artifact_type_unavailable", "is planned, not yet available")
        elif "fail" in str(art.request.get("notes", "")).lower():
            self._fail(job, art, "artifact_generation_failed", "adapter failed to render")
        else:
            expires = iso(at + SHARE_DAYS * 86400)
            manifest = table_read_manifest(art.id, expires, self.cast.of(art).characters)
            manifest["revision"] = 1
            art.body.update(
                status="READY", manifest=manifest, tableReadShareLinkId=self.k.ids.next("cmsl")
            )
            art.revisions = [copy.deepcopy(manifest)]
            self.ledger.settle(job.reservation, art.credits)
        stamp(art.body, at)
        self._progress(job, at)

    def _fail(self, job: JobRec, art: ArtifactRec, code: str, why: str) -> None:
        art.body.update(
            status="FAILED", failureCode=code, failureMessage=f"{art.request['type']} {why}."
        )
        self.ledger.release(job.reservation, art.credits)

    def _progress(self, job: JobRec, at: float) -> None:
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
        stamp(job.body, at)
