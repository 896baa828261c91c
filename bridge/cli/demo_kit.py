"""The demo kit: what both demos (`storybridge demo`, `--provider syllaby`) share. An embedded
bridge on the sandboxes, commands over request/reply, and waits for the events they cause.

Each demo is a walk (`Walk`) over this kit; the kit knows no walk, so both demo modules import it
and neither imports the other.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Awaitable, Callable
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


Walk = Callable[[NATS, Subjects, Console, EventWaiter, float], Awaitable[str]]
"""A demo's flow: drives the commands, returns the URL of what it made."""


async def narrate(console: Console, walk: Walk, *, what: str, final: str, timeout: float) -> bool:
    """Run `walk` against an embedded bridge on the sandboxes, printing every event it causes.
    `what` names the sandbox in the banner, `final` what the returned URL points at."""
    with tempfile.TemporaryDirectory(prefix="storybridge-demo-") as tmp:
        settings = BridgeSettings(
            sandbox=True, data_dir=Path(tmp), nats_port=0, log_format="console"
        )
        bridge = Bridge(settings)
        console.print(Panel(f"storybridge demo: embedded NATS + {what}", style="bold"))
        await bridge.start()
        subjects = Subjects(settings.subject_prefix)
        nc = await nats.connect(bridge.nats_url)
        waiter = EventWaiter(console)
        await nc.subscribe(subjects.event(">"), cb=waiter.on_msg)
        try:
            url = await asyncio.wait_for(walk(nc, subjects, console, waiter, timeout), timeout)
        except (TimeoutError, RuntimeError) as exc:
            console.print(f"[bold red]demo failed:[/bold red] {exc!r}")
            return False
        finally:
            await nc.drain()
            await bridge.stop()
        console.print(Panel(f"Done: {len(waiter.events)} events. {final}: {url}", style="green"))
        return True
