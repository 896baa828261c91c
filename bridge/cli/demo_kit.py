"""The demo kit: what every provider's demo (`storybridge demo --provider <name>`) shares. An
embedded bridge on the sandboxes, commands over request/reply, and waits for the events they cause.

Each demo is a walk over a `Session` (bridge.plugins.DemoSession), declared by its provider's bundle
(`demo`, a bridge.plugins.Demo); the kit knows no walk and no provider.
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
from bridge.plugins import Demo
from bridge.runtime import Bridge


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


class Session:
    """A walk's view of the bridge: bridge.plugins.DemoSession over one NATS connection."""

    def __init__(
        self, nc: NATS, subjects: Subjects, console: Console, waiter: EventWaiter, timeout: float
    ) -> None:
        self.nc, self.subjects, self.console = nc, subjects, console
        self.waiter, self.timeout = waiter, timeout

    async def command(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(payload)
        self.console.print(f"[bold blue]→ {name}[/bold blue] {body[:100]}")
        reply = await self.nc.request(self.subjects.request(name), body.encode(), timeout=60)
        outcome: dict[str, Any] = json.loads(reply.data)
        if not outcome.get("ok"):
            raise RuntimeError(f"{name} failed: {outcome.get('error')}")
        return dict(outcome["result"])

    async def event(self, suffix: str, resource_id: str) -> dict[str, Any]:
        return await self.waiter.wait_for(self.subjects.event(suffix), resource_id, self.timeout)


async def narrate(console: Console, demo: Demo, *, timeout: float) -> bool:
    """Run `demo`'s walk against an embedded bridge on the sandboxes, printing every event it
    causes."""
    with tempfile.TemporaryDirectory(prefix="storybridge-demo-") as tmp:
        settings = BridgeSettings(
            sandbox=True, data_dir=Path(tmp), nats_port=0, log_format="console"
        )
        bridge = Bridge(settings)
        console.print(Panel(f"storybridge demo: embedded NATS + {demo.what}", style="bold"))
        await bridge.start()
        subjects = Subjects(settings.subject_prefix)
        nc = await nats.connect(bridge.nats_url)
        waiter = EventWaiter(console)
        await nc.subscribe(subjects.event(">"), cb=waiter.on_msg)
        try:
            session = Session(nc, subjects, console, waiter, timeout)
            url = await asyncio.wait_for(demo.walk(session), timeout)
        except (TimeoutError, RuntimeError) as exc:
            console.print(f"[bold red]demo failed:[/bold red] {exc!r}")
            return False
        finally:
            await nc.drain()
            await bridge.stop()
        console.print(
            Panel(f"Done: {len(waiter.events)} events. {demo.final}: {url}", style="green")
        )
        return True
