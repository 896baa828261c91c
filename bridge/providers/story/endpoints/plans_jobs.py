"""Story plans and story jobs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from bridge.http.ratelimit import Priority
from bridge.http.transport import ApiResponse
from bridge.providers.story.endpoints.base import ClientCore, Page, seg
from schemas.story import requests as q
from schemas.story import resources as r

__all__ = ["PlansJobsMixin"]

COMMAND = Priority.COMMAND


class PlansJobsMixin(ClientCore):
    """``/story-projects/{id}/story-plans``, ``/story-plans/{id}``, ``/story-jobs``."""

    # --- plans ---------------------------------------------------------------------------------

    async def create_plan(
        self,
        project_id: str,
        body: q.PlanCreate | Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        priority: Priority = COMMAND,
    ) -> ApiResponse[r.Plan]:
        """Start planning; the plan comes back PENDING with a preliminary quote."""
        return await self._call(
            "POST",
            f"story-projects/{seg(project_id)}/story-plans",
            r.Plan,
            envelope="plan",
            body=body,
            body_model=q.PlanCreate,
            idempotency_key=idempotency_key,
            priority=priority,
        )

    async def list_plans(
        self,
        project_id: str,
        *,
        cursor: str | None = None,
        limit: int | None = None,
        priority: Priority = COMMAND,
    ) -> ApiResponse[Page[r.Plan]]:
        return await self._page(
            f"story-projects/{seg(project_id)}/story-plans",
            r.Plan,
            items_key="plans",
            cursor=cursor,
            limit=limit,
            priority=priority,
        )

    def iter_plans(
        self, project_id: str, *, limit: int | None = None, priority: Priority = COMMAND
    ) -> AsyncIterator[r.Plan]:
        return self._iterate(
            f"story-projects/{seg(project_id)}/story-plans",
            r.Plan,
            items_key="plans",
            limit=limit,
            priority=priority,
        )

    async def get_plan(self, plan_id: str, *, priority: Priority = COMMAND) -> ApiResponse[r.Plan]:
        return await self._call(
            "GET", f"story-plans/{seg(plan_id)}", r.Plan, envelope="plan", priority=priority
        )

    async def approve_plan(
        self,
        plan_id: str,
        body: q.PlanApprove | Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        priority: Priority = COMMAND,
    ) -> ApiResponse[r.Plan]:
        """Approve a REQUIRES_APPROVAL plan (re-approving an APPROVED plan is a no-op).

        No body unless given one: the production client sends ``{"userConfirmed": true}``.
        """
        return await self._call(
            "POST",
            f"story-plans/{seg(plan_id)}/approve",
            r.Plan,
            envelope="plan",
            body=body,
            body_model=q.PlanApprove if body is not None else None,
            idempotency_key=idempotency_key,
            priority=priority,
        )

    async def resume_plan(
        self, plan_id: str, *, idempotency_key: str | None = None, priority: Priority = COMMAND
    ) -> ApiResponse[r.Plan]:
        """Resume a plan that stopped (FIELD-NOTES); no body, answers ``{"plan": ...}``."""
        return await self._call(
            "POST", f"story-plans/{seg(plan_id)}/resume", r.Plan, envelope="plan",
            idempotency_key=idempotency_key, priority=priority,
        )  # fmt: skip

    async def resume_job(
        self, job_id: str, *, idempotency_key: str | None = None, priority: Priority = COMMAND
    ) -> ApiResponse[r.Job]:
        """Resume a job that stopped (FIELD-NOTES); no body, answers ``{"job": ...}``."""
        return await self._call(
            "POST", f"story-jobs/{seg(job_id)}/resume", r.Job, envelope="job",
            idempotency_key=idempotency_key, priority=priority,
        )  # fmt: skip

    async def reject_plan(
        self,
        plan_id: str,
        body: q.PlanReject | Mapping[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
        priority: Priority = COMMAND,
    ) -> ApiResponse[r.Plan]:
        return await self._call(
            "POST",
            f"story-plans/{seg(plan_id)}/reject",
            r.Plan,
            envelope="plan",
            body=body,
            body_model=q.PlanReject,
            idempotency_key=idempotency_key,
            priority=priority,
        )

    # --- jobs ----------------------------------------------------------------------------------

    async def create_job(
        self,
        body: q.JobCreate | Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        priority: Priority = COMMAND,
    ) -> ApiResponse[r.Job]:
        """Reserve credits and start generating from an APPROVED plan. Send a key: it is paid."""
        return await self._call(
            "POST",
            "story-jobs",
            r.Job,
            envelope="job",
            body=body,
            body_model=q.JobCreate,
            idempotency_key=idempotency_key,
            priority=priority,
        )

    async def list_jobs(
        self,
        *,
        project_id: str | None = None,
        story_plan_id: str | None = None,
        cursor: str | None = None,
        limit: int | None = None,
        priority: Priority = COMMAND,
    ) -> ApiResponse[Page[r.Job]]:
        return await self._page(
            "story-jobs",
            r.Job,
            items_key="jobs",
            cursor=cursor,
            limit=limit,
            params={"projectId": project_id, "storyPlanId": story_plan_id},
            priority=priority,
        )

    def iter_jobs(
        self,
        *,
        project_id: str | None = None,
        story_plan_id: str | None = None,
        limit: int | None = None,
        priority: Priority = COMMAND,
    ) -> AsyncIterator[r.Job]:
        return self._iterate(
            "story-jobs",
            r.Job,
            items_key="jobs",
            limit=limit,
            params={"projectId": project_id, "storyPlanId": story_plan_id},
            priority=priority,
        )

    async def get_job(self, job_id: str, *, priority: Priority = COMMAND) -> ApiResponse[r.Job]:
        return await self._call(
            "GET", f"story-jobs/{seg(job_id)}", r.Job, envelope="job", priority=priority
        )

    async def cancel_job(
        self,
        job_id: str,
        *,
        idempotency_key: str | None = None,
        priority: Priority = COMMAND,
    ) -> ApiResponse[r.Job]:
        return await self._call(
            "POST",
            f"story-jobs/{seg(job_id)}/cancel",
            r.Job,
            envelope="job",
            idempotency_key=idempotency_key,
            priority=priority,
        )

    async def list_job_artifacts(
        self, job_id: str, *, priority: Priority = COMMAND
    ) -> ApiResponse[Page[r.Artifact]]:
        """The job's artifacts (one page: the endpoint is not paginated today)."""
        return await self._page(
            f"story-jobs/{seg(job_id)}/artifacts",
            r.Artifact,
            items_key="artifacts",
            priority=priority,
        )
