"""`storybridge tail`: events as they happen, readably, for people at a terminal."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import nats
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy
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
    "retrying": "yellow",
    "dead_lettered": "bold red",
    "degraded": "bold red",
    "recovered": "bold green",
    "gone": "yellow",
    "expired": "yellow",
    "published": "bold green",
    "settled": "green",
    "requires_approval": "bold magenta",
}


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """`90s`, `15m`, `2h`, `7d` or plain seconds; ValueError naming the accepted forms."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 15m, 2h, 7d)")
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def render_event(subject: str, event: dict[str, Any]) -> Text:
    """One line per event: time, subject, then what that family of event is about.

    Families: outcomes and command lifecycle (`command.*`), bridge health (`bridge.*`), watch
    lifecycle (`watch.*`: no status of a resource, but a reason), and resource changes
    (`previous -> status`, with the part a facet follows when it has one).
    """
    raw = event.get("data")
    data: dict[str, Any] = raw if isinstance(raw, dict) else {}
    short = subject.split(".evt.", 1)[-1]  # `{p}.evt.` is the same on every line
    family, _, kind = short.partition(".")
    line = Text()
    line.append(str(event.get("time", ""))[11:23] + " ", style="dim")
    line.append(f"{short:<30} ", style=STATUS_STYLES.get(short.rsplit(".", 1)[-1], "cyan"))
    renderer = _FAMILIES.get(family, _resource)
    renderer(line, kind, data)
    return line


def _error(line: Text, error: Any) -> None:
    if isinstance(error, dict):
        line.append(f"{error.get('code')}: {error.get('message')}", style="red")


def _command(line: Text, kind: str, data: dict[str, Any]) -> None:
    """Outcomes (`succeeded`/`failed`), `retrying` (attempt, next try) and `dead_lettered`."""
    line.append(f"{data.get('command')} ", style="bold")
    line.append(f"commandId={data.get('commandId')} ")
    if kind == "retrying":
        line.append(f"attempt={data.get('attempt')} next={data.get('nextAttemptAt')} ")
    elif kind == "dead_lettered":
        line.append("dead-lettered ", style="bold red")
    if data.get("error"):
        _error(line, data["error"])
    else:
        line.append(f"status={data.get('status')} replayed={data.get('replayed')}")


def _bridge(line: Text, kind: str, data: dict[str, Any]) -> None:
    """`degraded` (a provider's circuit opened) and `recovered`."""
    line.append(f"provider={data.get('provider')} ", style="bold")
    if data.get("code"):
        line.append(f"{data.get('code')}: {data.get('message')} ", style="red")
    if data.get("since"):
        line.append(f"since {data.get('since')}", style="dim")


def _watch(line: Text, kind: str, data: dict[str, Any]) -> None:
    """Watch lifecycle: stalled, recovered, gone, expired. There is no status to show."""
    line.append(f"{data.get('resource')} {data.get('id')} ", style="bold")
    details = {
        "stalled": f"unreadable for {data.get('failures')} reads: {data.get('lastError')}",
        "recovered": "read again after a stall",
        "gone": "not found any more: watch ended",
        "expired": "no terminal state within the watch's age limit: watch ended",
    }
    line.append(details.get(kind, kind.replace("_", " ")))
    extra = {
        k: v
        for k, v in data.items()
        if k not in ("resource", "id", "projectId", "failures", "lastError")
    }
    if extra and kind not in ("stalled",):
        line.append(" " + " ".join(f"{k}={v}" for k, v in sorted(extra.items())), style="dim")


def _resource(line: Text, kind: str, data: dict[str, Any]) -> None:
    """A status change of a resource or one of its facets (`∅` when first seen)."""
    line.append(f"{data.get('id', '')} ", style="bold")
    if data.get("part") is not None:
        line.append(f"[{data['part']}] ")
    previous = data.get("previousStatus")
    status = data.get("status")
    line.append(f"{previous or '∅'} → {status if status is not None else kind}")


_FAMILIES = {"command": _command, "bridge": _bridge, "watch": _watch}


async def tail(
    servers: list[str],
    pattern: str,
    *,
    console: Console,
    limit: int | None = None,
    connect: dict[str, Any] | None = None,
    since: timedelta | None = None,
    stream: str = "STORYBRIDGE_EVENTS",
) -> int:
    """Print events matching `pattern` until interrupted (or `limit` events); with `since`, first
    the events the stream kept from that long ago."""
    nc = await nats.connect(servers=servers, **(connect or {}))
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

    if since is None:
        await nc.subscribe(pattern, cb=on_msg)
        await nc.flush()  # the banner promises that events from now on are shown
        banner = f"tailing {pattern} on {', '.join(servers)} (Ctrl-C to stop)"
    else:
        # One ordered consumer replays the stream from `since` and then stays live: no gap
        # between history and live, and nothing shown twice.
        start = datetime.now(UTC) - since
        await nc.jetstream().subscribe(
            pattern,
            stream=stream,
            cb=on_msg,
            ordered_consumer=True,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=start),
        )
        banner = (
            f"tailing {pattern} on {', '.join(servers)} from {start.isoformat(timespec='seconds')}"
            " (Ctrl-C to stop)"
        )
    console.print(Text(banner, style="dim"))
    try:
        await done.wait()
    finally:
        await nc.close()
    return seen
