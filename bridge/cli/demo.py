"""`storybridge demo`: the whole happy path through NATS, narrated, on embedded defaults.

project -> source -> plan -> (REQUIRES_APPROVAL) approve -> job -> (READY) finalize audio -> complete.
Every step is a command over request/reply; every wait is for an event, exactly as a service would do.
"""

from __future__ import annotations

from nats.aio.client import Client as NATS
from rich.console import Console

from bridge.cli.demo_kit import EventWaiter, command, narrate
from bridge.cli.demo_syllaby import walk_syllaby
from bridge.names import Subjects

SOURCE_TEXT = (
    "Acme's Q3 launch cut onboarding time by 60% for enterprise teams. Customers describe the "
    "collaboration features as the reason they renewed. The launch ships in three waves."
)


async def walk_happy_path(
    nc: NATS, subjects: Subjects, console: Console, waiter: EventWaiter, timeout: float
) -> str:
    """Drive the flow; returns the finalized artifact's recording URL."""
    project = (
        await command(nc, subjects, console, "project.create", {"name": "storybridge demo"})
    )["project"]
    source = await command(
        nc,
        subjects,
        console,
        "source.create",
        {
            "projectId": project["id"],
            "type": "text",
            "label": "press release",
            "content": SOURCE_TEXT,
        },
    )
    plan = (
        await command(
            nc,
            subjects,
            console,
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
    await waiter.wait_for(f"{subjects.prefix}.evt.plan.requires_approval", plan["id"], timeout)
    await command(nc, subjects, console, "plan.approve", {"planId": plan["id"]})
    job = (await command(nc, subjects, console, "job.create", {"storyPlanId": plan["id"]}))["job"]
    ready = await waiter.wait_for(f"{subjects.prefix}.evt.job.ready", job["id"], timeout)
    artifact_id = ready["data"]["snapshot"]["artifacts"][0]["id"]
    await command(
        nc, subjects, console, "artifact.finalize", {"artifactId": artifact_id, "mode": "audio"}
    )
    done = await waiter.wait_for(
        f"{subjects.prefix}.evt.artifact.finalize.complete", artifact_id, timeout
    )
    audio = (done["data"]["snapshot"].get("manifest") or {}).get("audio") or {}
    return str(audio.get("recordingUrl"))


async def run_demo(console: Console, *, timeout: float = 300.0, provider: str = "story") -> bool:
    """`provider`: "story" walks the Story API, "syllaby" the Syllaby storyboard flow."""
    if provider == "syllaby":
        return await narrate(
            console, walk_syllaby, what="Syllaby sandbox", final="Video", timeout=timeout
        )
    return await narrate(
        console, walk_happy_path, what="Story API sandbox", final="Final MP3", timeout=timeout
    )
