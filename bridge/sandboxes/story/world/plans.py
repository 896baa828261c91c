"""Story plans: synchronous validation, background generation, approval, rejection, supersede,
and resume (FIELD-NOTES: `POST /story-plans/{id}/resume`, the production client's recovery path).

A new plan supersedes the project's live ones. Generation: PENDING -> RUNNING -> REQUIRES_APPROVAL
(or APPROVED with autoApprove and no table read). Failure triggers: a title containing "fail"
fails with story_plan_failed, on the first run only (a resumed plan is generated again and
succeeds, the case a recovery path exists for); a planned artifact type fails with
artifact_type_unavailable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bridge.sandboxes.story.errors import StorySandboxError
from bridge.sandboxes.story.world.account import AccountStore
from bridge.sandboxes.story.world.content import plan_envelope, quote_for
from bridge.sandboxes.story.world.kernel import Kernel, iso, stamp, view
from bridge.sandboxes.story.world.paging import paginate
from bridge.sandboxes.story.world.projects import ProjectStore
from bridge.sandboxes.story.world.sources import SourceStore
from schemas.story.requests import PlanCreate

LIVE_PLAN_STATES = ("PENDING", "RUNNING", "REQUIRES_APPROVAL", "APPROVED")
REJECTABLE = ["PENDING", "RUNNING", "REQUIRES_APPROVAL", "APPROVED"]
FINISHED_PLAN = ("REJECTED", "SUPERSEDED")


@dataclass
class PlanRec:
    seq: int
    id: str
    project_id: str
    body: dict[str, Any]
    resumed: bool = False  # the failure markers fire on the first run only


class PlanStore:
    def __init__(
        self,
        kernel: Kernel,
        projects: ProjectStore,
        sources: SourceStore,
        account: AccountStore,
    ) -> None:
        self.k = kernel
        self.projects = projects
        self.sources = sources
        self.account = account
        self.records: dict[str, PlanRec] = {}
        self.by_project: dict[str, list[PlanRec]] = {}

    def of(self, project_id: str) -> list[PlanRec]:
        return self.by_project.get(project_id, [])

    def find(self, plan_id: str) -> PlanRec | None:
        """The plan if it exists under a live project."""
        rec = self.records.get(plan_id)
        return rec if rec is not None and self.projects.live(rec.project_id) else None

    # -- operations -----------------------------------------------------------------------------

    def create(self, project_id: str, req: PlanCreate) -> dict[str, Any]:
        with self.k.moment() as now:
            project = self.projects.record(project_id)
            source_ids = list(req.sourceIds or [])
            for source_id in source_ids:
                source = self.sources.find(source_id)
                if (
                    source is None
                    or source.deleted
                    or source.project_id != project.id
                    or source.body["status"] != "READY"
                ):
                    raise StorySandboxError(
                        "source_not_found",
                        f"sourceIds: {source_id} is not a READY source of project {project.id}.",
                        details={"sourceId": source_id},
                    )
            for older in self.of(project.id):
                if older.body["status"] in LIVE_PLAN_STATES:
                    older.body["status"] = "SUPERSEDED"
                    stamp(older.body, now)
            requests = [r.model_dump(mode="json", exclude_none=True) for r in req.artifactRequests]
            rec = PlanRec(
                seq=self.k.next_seq(), id=self.k.ids.next("cmpl"), project_id=project.id, body={}
            )
            rec.body = {
                "id": rec.id,
                "projectId": project.id,
                "status": "PENDING",
                "title": req.title,
                "target": req.target.model_dump(mode="json", exclude_none=True),
                "artifactRequests": requests,
                "styleConstraints": (
                    req.styleConstraints.model_dump(mode="json", exclude_none=True)
                    if req.styleConstraints
                    else None
                ),
                "sourceIds": source_ids,
                "autoApprove": bool(req.autoApprove),
                "creativeBrief": req.creativeBrief,
                "plan": None,
                "quote": quote_for(
                    requests, len(source_ids), self.account.available_artifact_types(), iso(now)
                ),
                "modelUsed": None,
                "providerUsed": None,
                "failureCode": None,
                "failureMessage": None,
                "approvedAt": None,
                "rejectedAt": None,
                "rejectionReason": None,
                "generatedAt": None,
                "currentVersion": 1,
                "createdAt": iso(now),
                "updatedAt": iso(now),
            }
            self.records[rec.id] = rec
            self.by_project.setdefault(project.id, []).append(rec)
            self._generate(rec, now)
            return view(rec.body)

    def _generate(self, rec: PlanRec, now: float) -> None:
        start = now + self.k.durations.plan_start
        self.k.at(start, lambda at: self._running(rec, at))
        self.k.at(start + self.k.durations.plan_generate, lambda at: self._done(rec, at))

    def _running(self, rec: PlanRec, at: float) -> None:
        if rec.body["status"] == "PENDING":
            rec.body["status"] = "RUNNING"
            stamp(rec.body, at)

    def _done(self, rec: PlanRec, at: float) -> None:
        body = rec.body
        if body["status"] != "RUNNING":
            return
        unavailable = [
            r["type"]
            for r in body["artifactRequests"]
            if r["type"] not in self.account.available_artifact_types()
        ]
        if body["title"] and "fail" in str(body["title"]).lower() and not rec.resumed:
            body.update(
                status="FAILED",
                failureCode="story_plan_failed",
                failureMessage="StoryPlan generation failed: the planner could not ground the story.",
            )
        elif unavailable:
            body.update(
                status="FAILED",
                failureCode="artifact_type_unavailable",
                failureMessage=(
                    f"Artifact type(s) {', '.join(unavailable)} are planned, not yet available; "
                    "see /api/v1/capabilities artifacts."
                ),
            )
        else:
            table_read = any(r["type"] == "table_read" for r in body["artifactRequests"])
            body["plan"] = plan_envelope(body, list(body["sourceIds"]))
            body.update(generatedAt=iso(at), modelUsed="sandbox-planner", providerUsed="sandbox")
            if body["autoApprove"] and not table_read:
                body.update(status="APPROVED", approvedAt=iso(at))
            else:
                body["status"] = "REQUIRES_APPROVAL"
        stamp(body, at)

    def _record(self, plan_id: str, code: str) -> PlanRec:
        rec = self.find(plan_id)
        if rec is None:
            noun = "Story project" if code == "project_not_found" else "Story plan"
            raise StorySandboxError(
                code, f"{noun} for plan {plan_id} does not exist or is owned by another account."
            )
        return rec

    def get(self, plan_id: str) -> dict[str, Any]:
        """The reference: a missing plan reads as project_not_found (the same ownership check)."""
        with self.k.moment():
            return view(self._record(plan_id, "project_not_found").body)

    def page(
        self, project_id: str, query: Mapping[str, str]
    ) -> tuple[list[dict[str, Any]], str | None]:
        with self.k.moment():
            page, cursor = paginate(self.of(self.projects.record(project_id).id), query)
            return [view(r.body) for r in page], cursor

    def approve(self, plan_id: str) -> dict[str, Any]:
        with self.k.moment() as now:
            rec = self._record(plan_id, "story_plan_not_found")
            status = rec.body["status"]
            if status == "REQUIRES_APPROVAL":
                rec.body.update(status="APPROVED", approvedAt=iso(now))
                stamp(rec.body, now)
            elif status == "FAILED":
                raise StorySandboxError(
                    "story_plan_failed",
                    f"Plan {plan_id} failed ({rec.body['failureCode']}); it cannot be approved.",
                    details={"status": status, "failureCode": rec.body["failureCode"]},
                )
            elif status != "APPROVED":
                raise StorySandboxError(
                    "validation_failed",
                    f"Plan {plan_id} is {status}; only a REQUIRES_APPROVAL plan can be approved.",
                    details={"status": status, "allowed": ["REQUIRES_APPROVAL"]},
                )
            return view(rec.body)

    def reject(self, plan_id: str, reason: str | None) -> dict[str, Any]:
        with self.k.moment() as now:
            rec = self._record(plan_id, "story_plan_not_found")
            status = rec.body["status"]
            if status not in REJECTABLE:
                raise StorySandboxError(
                    "story_plan_state_invalid",
                    f"Plan {plan_id} is {status}; it can no longer be rejected.",
                    details={"status": status, "allowed": REJECTABLE},
                )
            rec.body.update(status="REJECTED", rejectedAt=iso(now), rejectionReason=reason)
            stamp(rec.body, now)
            return view(rec.body)

    def resume(self, plan_id: str) -> dict[str, Any]:
        """A FAILED plan is generated again; any other live plan is answered as it is."""
        with self.k.moment() as now:
            rec = self.find(plan_id)
            if rec is None:
                raise StorySandboxError(
                    "story_plan_not_found", f"Story plan {plan_id} does not exist."
                )
            body = rec.body
            if body["status"] in FINISHED_PLAN:
                raise StorySandboxError(
                    "story_plan_state_invalid",
                    f"Plan {plan_id} is {body['status']}; it cannot be resumed.",
                    details={"status": body["status"], "allowed": ["FAILED"]},
                )
            if body["status"] == "FAILED":
                rec.resumed = True
                body.update(status="PENDING", failureCode=None, failureMessage=None)
                stamp(body, now)
                self._generate(rec, now)
            return view(body)
