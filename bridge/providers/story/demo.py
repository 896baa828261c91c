"""`storybridge demo`: the Story API's happy path through NATS, narrated.

project -> source -> plan -> (REQUIRES_APPROVAL) approve -> job -> (READY) finalize audio -> complete.
Every step is a command over request/reply; every wait is for an event, exactly as a service would do.
"""

from __future__ import annotations

from bridge.plugins import Demo, DemoSession

SOURCE_TEXT = (
    "Acme's Q3 launch cut onboarding time by 60% for enterprise teams. Customers describe the "
    "collaboration features as the reason they renewed. The launch ships in three waves."
)


async def walk_happy_path(session: DemoSession) -> str:
    """Drive the flow; returns the finalized artifact's recording URL."""
    project = (await session.command("project.create", {"name": "storybridge demo"}))["project"]
    source = await session.command(
        "source.create",
        {
            "projectId": project["id"],
            "type": "text",
            "label": "press release",
            "content": SOURCE_TEXT,
        },
    )
    plan = (
        await session.command(
            "plan.create",
            {
                "projectId": project["id"],
                "target": {
                    "audience": "enterprise buyers",
                    "objective": "explain the Q3 product launch",
                    "outcome": "book a demo",
                },
                "artifactRequests": [{"type": "table_read", "mode": "documentary"}],
                "sourceIds": [source["source"]["id"]],
            },
        )
    )["plan"]
    await session.event("plan.requires_approval", plan["id"])
    await session.command("plan.approve", {"planId": plan["id"]})
    job = (await session.command("job.create", {"storyPlanId": plan["id"]}))["job"]
    ready = await session.event("job.ready", job["id"])
    artifact_id = ready["data"]["snapshot"]["artifacts"][0]["id"]
    await session.command("artifact.finalize", {"artifactId": artifact_id, "mode": "audio"})
    done = await session.event("artifact.finalize.complete", artifact_id)
    audio = (done["data"]["snapshot"].get("manifest") or {}).get("audio") or {}
    return str(audio.get("recordingUrl"))


DEMO = Demo(
    what="Story API sandbox",
    final="Final MP3",
    walk=walk_happy_path,
)
