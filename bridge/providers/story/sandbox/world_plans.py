"""Story plans: synchronous validation, background generation, approval, rejection, supersede."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.providers.story.sandbox.errors import SandboxError
from bridge.providers.story.sandbox.world_base import iso, paginate
from bridge.providers.story.sandbox.world_content import plan_envelope, quote_for
from bridge.providers.story.sandbox.world_state import PlanRec, WorldState, view
from schemas.story.requests import PlanCreate

LIVE_PLAN_STATES = ("PENDING", "RUNNING", "REQUIRES_APPROVAL", "APPROVED")
REJECTABLE = ["PENDING", "RUNNING", "REQUIRES_APPROVAL", "APPROVED"]


class PlansMixin(WorldState):
    def create_plan(self, project_id: str, req: PlanCreate) -> dict[str, Any]:
        with self.lock:
            now = self.sync()
            project = self.project(project_id)
            source_ids = list(req.sourceIds or [])
            for source_id in source_ids:
                source = self.sources.get(source_id)
                if (
                    source is None
                    or source.deleted
                    or source.project_id != project.id
                    or source.body["status"] != "READY"
                ):
                    raise SandboxError(
                        "source_not_found",
                        f"sourceIds: {source_id} is not a READY source of project {project.id}.",
                        details={"sourceId": source_id},
                    )
            for older in project.plans:
                if older.body["status"] in LIVE_PLAN_STATES:
                    older.body["status"] = "SUPERSEDED"
                    self.stamp(older.body, now)
            requests = [r.model_dump(mode="json", exclude_none=True) for r in req.artifactRequests]
            rec = PlanRec(
                seq=self.next_seq(), id=self.ids.next("cmpl"), project_id=project.id, body={}
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
                    requests, len(source_ids), self.available_artifact_types(), iso(now)
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
            self.plans[rec.id] = rec
            project.plans.append(rec)
            start = now + self.durations.plan_start
            self.scheduler.at(start, lambda at: self._plan_running(rec, at))
            self.scheduler.at(
                start + self.durations.plan_generate, lambda at: self._plan_done(rec, at)
            )
            return view(rec.body)

    def _plan_running(self, rec: PlanRec, at: float) -> None:
        if rec.body["status"] == "PENDING":
            rec.body["status"] = "RUNNING"
            self.stamp(rec.body, at)

    def _plan_done(self, rec: PlanRec, at: float) -> None:
        body = rec.body
        if body["status"] != "RUNNING":
            return
        unavailable = [
            r["type"]
            for r in body["artifactRequests"]
            if r["type"] not in self.available_artifact_types()
        ]
        resumed = rec.id in getattr(self, "resumed_plans", ())  # markers fire on the first run
        if body["title"] and "fail" in str(body["title"]).lower() and not resumed:
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
        self.stamp(body, at)

    def _plan(self, plan_id: str, code: str) -> PlanRec:
        rec = self.plans.get(plan_id)
        if rec is None or self.projects[rec.project_id].deleted:
            noun = "Story project" if code == "project_not_found" else "Story plan"
            raise SandboxError(
                code, f"{noun} for plan {plan_id} does not exist or is owned by another account."
            )
        return rec

    def get_plan(self, plan_id: str) -> dict[str, Any]:
        """The reference: a missing plan reads as project_not_found (the same ownership check)."""
        with self.lock:
            self.sync()
            return view(self._plan(plan_id, "project_not_found").body)

    def list_plans(
        self, project_id: str, query: Mapping[str, str]
    ) -> tuple[list[dict[str, Any]], str | None]:
        with self.lock:
            self.sync()
            page, cursor = paginate(self.project(project_id).plans, query)
            return [view(r.body) for r in page], cursor

    def approve_plan(self, plan_id: str) -> dict[str, Any]:
        with self.lock:
            now = self.sync()
            rec = self._plan(plan_id, "story_plan_not_found")
            status = rec.body["status"]
            if status == "REQUIRES_APPROVAL":
                rec.body.update(status="APPROVED", approvedAt=iso(now))
                self.stamp(rec.body, now)
            elif status == "FAILED":
                raise SandboxError(
                    "story_plan_failed",
                    f"Plan {plan_id} failed ({rec.body['failureCode']}); it cannot be approved.",
                    details={"status": status, "failureCode": rec.body["failureCode"]},
                )
            elif status != "APPROVED":
                raise SandboxError(
                    "validation_failed",
                    f"Plan {plan_id} is {status}; only a REQUIRES_APPROVAL plan can be approved.",
                    details={"status": status, "allowed": ["REQUIRES_APPROVAL"]},
                )
            return view(rec.body)

    def reject_plan(self, plan_id: str, reason: str | None) -> dict[str, Any]:
        with self.lock:
            now = self.sync()
            rec = self._plan(plan_id, "story_plan_not_found")
            status = rec.body["status"]
            if status not in REJECTABLE:
                raise SandboxError(
                    "story_plan_state_invalid",
                    f"Plan {plan_id} is {status}; it can no longer be rejected.",
                    details={"status": status, "allowed": REJECTABLE},
                )
            rec.body.update(status="REJECTED", rejectedAt=iso(now), rejectionReason=reason)
            self.stamp(rec.body, now)
            return view(rec.body)
