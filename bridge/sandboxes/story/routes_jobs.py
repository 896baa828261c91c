"""Story job endpoints: create (reserves credits), list, read, cancel, the job's artifacts."""

from __future__ import annotations

from typing import Any

from bridge.sandboxes.story.core import StoryCall, StoryEndpoint
from schemas.story import requests as q


async def create_job(call: StoryCall) -> dict[str, Any]:
    return {"job": call.world.jobs.create(call.body_as(q.JobCreate))}


async def list_jobs(call: StoryCall) -> dict[str, Any]:
    jobs, cursor = call.world.jobs.page(call.query)
    return {"jobs": jobs, "nextCursor": cursor}


async def get_job(call: StoryCall) -> dict[str, Any]:
    return {"job": call.world.jobs.get(call.params["jobId"])}


async def cancel_job(call: StoryCall) -> dict[str, Any]:
    return {"job": call.world.jobs.cancel(call.params["jobId"])}


async def job_artifacts(call: StoryCall) -> dict[str, Any]:
    return {"artifacts": call.world.jobs.artifacts_of(call.params["jobId"])}


async def resume_job(call: StoryCall) -> dict[str, Any]:
    """FIELD-NOTES: the production client's recovery path for a job that stopped."""
    return {"job": call.world.jobs.resume(call.params["jobId"])}


ENDPOINTS: list[StoryEndpoint] = [
    StoryEndpoint("POST", "/story-jobs", create_job, "story:write", "required"),
    StoryEndpoint("GET", "/story-jobs", list_jobs, "story:read"),
    StoryEndpoint("GET", "/story-jobs/{jobId}", get_job, "story:read"),
    StoryEndpoint("POST", "/story-jobs/{jobId}/cancel", cancel_job, "story:write", "optional"),
    StoryEndpoint("GET", "/story-jobs/{jobId}/artifacts", job_artifacts, "artifact:read"),
    StoryEndpoint("POST", "/story-jobs/{jobId}/resume", resume_job, "story:write", "required"),
]
