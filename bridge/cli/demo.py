"""`storybridge demo`: the whole happy path through NATS, narrated, on embedded defaults.

project -> source -> plan -> (REQUIRES_APPROVAL) approve -> job -> (READY) finalize audio -> complete.
Every step is a command over request/reply; every wait is for an event, exactly as a service would do.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

import nats
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from rich.console import Console
from rich.panel import Panel

from bridge.cli.tail import render_event
from bridge.config import BridgeSettings
from bridge.names import Subjects
from bridge.runtime import Bridge

SOURCE_TEXT = (
    "Acme's Q3 launch cut onboarding time by 60% for enterprise teams. Customers describe the "
    "collaboration features as the reason they renewed. The launch ships in three waves."
)


class EventWaiter:
    """Collects events and lets the demo wait for the one it needs."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._changed = asyncio.Condition()

    async def on_msg(self, msg: Msg) -> None:
        event = json.loads(msg.data)
        self.console.print(render_event(msg.subject, event))
        async with self._changed:
            self.events.append((msg.subject, event))
            self._changed.notify_all()

    async def wait_for(self, subject: str, resource_id: str, timeout: float) -> dict[str, Any]:
        def match() -> dict[str, Any] | None:
            for seen_subject, event in self.events:
                if seen_subject == subject and (event.get("data") or {}).get("id") == resource_id:
                    return event
            return None

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: match() is not None), timeout)
        found = match()
        assert found is not None
        return found


async def command(
    nc: NATS, subjects: Subjects, console: Console, name: str, payload: dict[str, Any]
) -> dict[str, Any]:
    console.print(f"[bold blue]→ {name}[/bold blue] {json.dumps(payload)[:100]}")
    reply = await nc.request(subjects.request(name), json.dumps(payload).encode(), timeout=60)
    outcome: dict[str, Any] = json.loads(reply.data)
    if not outcome.get("ok"):
        raise RuntimeError(f"{name} failed: {outcome.get('error')}")
    return dict(outcome["result"])


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
    from bridge.cli.demo_syllaby import walk_syllaby

    with tempfile.TemporaryDirectory(prefix="storybridge-demo-") as tmp:
        settings = BridgeSettings(
            sandbox=True, data_dir=Path(tmp), nats_port=0, log_format="console"
        )
        bridge = Bridge(settings)
        what = "Syllaby sandbox" if provider == "syllaby" else "Story API sandbox"
        console.print(Panel(f"storybridge demo: embedded NATS + {what}", style="bold"))
        await bridge.start()
        subjects = Subjects(settings.subject_prefix)
        nc = await nats.connect(bridge.nats_url)
        waiter = EventWaiter(console)
        await nc.subscribe(subjects.event(">"), cb=waiter.on_msg)
        try:
            walk = walk_syllaby if provider == "syllaby" else walk_happy_path
            url = await asyncio.wait_for(walk(nc, subjects, console, waiter, timeout), timeout)
        except (TimeoutError, RuntimeError) as exc:
            console.print(f"[bold red]demo failed:[/bold red] {exc!r}")
            return False
        finally:
            await nc.drain()
            await bridge.stop()
        final = "Video" if provider == "syllaby" else "Final MP3"
        console.print(Panel(f"Done: {len(waiter.events)} events. {final}: {url}", style="green"))
        return True
