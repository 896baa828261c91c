"""One raw page of a project's sources, plans or jobs: the poller, discovery and `watch.add`'s
existence checks read the same pages, and a page any of them reads is as good as a poll of the
watched items it holds (the JSON as returned, not models a poll would throw away)."""

from __future__ import annotations

from typing import Any

from bridge.http.ratelimit import Priority
from bridge.http.routes import seg

LIST_ITEMS = {"source": "sources", "plan": "plans", "job": "jobs"}
LIST_PAGE = 100  # the API's largest page


async def list_page(
    client: Any,
    resource: str,
    project: str,
    cursor: str | None,
    *,
    plan: str | None = None,
    priority: Priority = Priority.POLL,
) -> Any:
    """One raw page of a project's sources, plans or jobs (`limit=100`, the API's largest)."""
    params: dict[str, Any] = {"limit": LIST_PAGE, "cursor": cursor}
    if resource == "job":
        params.update(projectId=project, storyPlanId=plan)
        return await client.request(
            "GET", "story-jobs", params=params, priority=priority, template="story-jobs"
        )
    listing = "sources" if resource == "source" else "story-plans"
    return await client.request(
        "GET",
        f"story-projects/{seg(project)}/{listing}",
        params=params,
        priority=priority,
        template=f"story-projects/{{project_id}}/{listing}",
    )


def complete(resource: str, item: dict[str, Any]) -> bool:
    """A listed job without its `artifacts` (a leaner listing) would hide artifact changes: such
    an item is read again on its own."""
    return resource != "job" or "artifacts" in item
