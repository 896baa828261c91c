"""`storybridge tail`: events as they happen, readably, for people at a terminal."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import nats
from nats.aio.msg import Msg
from rich.console import Console
from rich.text import Text

STATUS_STYLES = {
    "ready": "bold green",
    "complete": "bold green",
    "approved": "green",
    "succeeded": "green",
    "failed": "bold red",
    "canceled": "red",
    "rejected": "red",
    "stalled": "bold yellow",
    "requires_approval": "bold magenta",
}


def render_event(subject: str, event: dict[str, Any]) -> Text:
    """One line per event: time, subject, resource id, previous -> new status."""
    data = event.get("data") or {}
    status = subject.rsplit(".", 1)[-1]
    line = Text()
    line.append(str(event.get("time", ""))[11:23] + " ", style="dim")
    # The `{p}.evt.` head is the same on every line: the rest is what tells events apart.
    short = subject.split(".evt.", 1)[-1]
    line.append(f"{short:<30} ", style=STATUS_STYLES.get(status, "cyan"))
    if "commandId" in data:  # an outcome event
        line.append(f"{data.get('command')} ", style="bold")
        line.append(f"commandId={data.get('commandId')} ")
        error = data.get("error")
        if error:
            line.append(f"{error.get('code')}: {error.get('message')}", style="red")
        else:
            line.append(f"status={data.get('status')} replayed={data.get('replayed')}")
        return line
    line.append(f"{data.get('id', '')} ", style="bold")
    previous = data.get("previousStatus")
    line.append(f"{previous or '∅'} → {data.get('status')}")
    return line


async def tail(
    servers: list[str], pattern: str, *, console: Console, limit: int | None = None
) -> int:
    """Print events matching `pattern` until interrupted (or `limit` events)."""
    nc = await nats.connect(servers=servers)
    seen = 0
    done = asyncio.Event()

    async def on_msg(msg: Msg) -> None:
        nonlocal seen
        try:
            event = json.loads(msg.data)
        except ValueError:
            console.print(Text(f"{msg.subject} <not JSON: {len(msg.data)} bytes>", style="yellow"))
            return
        console.print(render_event(msg.subject, event))
        seen += 1
        if limit is not None and seen >= limit:
            done.set()

    await nc.subscribe(pattern, cb=on_msg)
    await nc.flush()  # the banner promises that events from now on are shown
    console.print(Text(f"tailing {pattern} on {', '.join(servers)} (Ctrl-C to stop)", style="dim"))
    try:
        await done.wait()
    finally:
        await nc.close()
    return seen
