"""Story plan endpoints: create, list, read, approve, reject."""

from __future__ import annotations

from typing import Any

from bridge.sandboxes.story.core import StoryCall, StoryEndpoint
from schemas.story import requests as q


async def create_plan(call: StoryCall) -> dict[str, Any]:
    project_id = call.params["projectId"]
    call.world.projects.get(project_id)
    req = call.body_as(q.PlanCreate)
    return {"plan": call.world.plans.create(project_id, req)}


async def list_plans(call: StoryCall) -> dict[str, Any]:
    plans, cursor = call.world.plans.page(call.params["projectId"], call.query)
    return {"plans": plans, "nextCursor": cursor}


async def get_plan(call: StoryCall) -> dict[str, Any]:
    return {"plan": call.world.plans.get(call.params["planId"])}


async def approve_plan(call: StoryCall) -> dict[str, Any]:
    return {"plan": call.world.plans.approve(call.params["planId"])}


async def reject_plan(call: StoryCall) -> dict[str, Any]:
    req = call.body_as(q.PlanReject, optional=True)
    return {"plan": call.world.plans.reject(call.params["planId"], req.reason)}


async def resume_plan(call: StoryCall) -> dict[str, Any]:
    """FIELD-NOTES: the production client's recovery path for a plan that stopped."""
    return {"plan": call.world.plans.resume(call.params["planId"])}


ENDPOINTS: list[StoryEndpoint] = [
    StoryEndpoint(
        "POST", "/story-projects/{projectId}/story-plans", create_plan, "story:write", "required"
    ),
    StoryEndpoint("GET", "/story-projects/{projectId}/story-plans", list_plans, "story:read"),
    StoryEndpoint("GET", "/story-plans/{planId}", get_plan, "story:read"),
    StoryEndpoint("POST", "/story-plans/{planId}/approve", approve_plan, "story:write", "optional"),
    StoryEndpoint("POST", "/story-plans/{planId}/reject", reject_plan, "story:write", "optional"),
    StoryEndpoint("POST", "/story-plans/{planId}/resume", resume_plan, "story:write", "required"),
]
