"""`storybridge send`: publish one command and show its outcome."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import nats
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.errors import NoRespondersError

from bridge.names import Subjects

NO_RESPONDERS_PATIENCE = 10.0  # seconds
# The command events that end a durable command; `retrying` does not.
FINAL_EVENTS = frozenset({"succeeded", "failed", "dead_lettered"})


async def request_answered(nc: NATS, subject: str, payload: bytes, *, timeout: float) -> Msg:
    """`nc.request`, re-sent for a few seconds while the server answers "no responders": nothing
    received the request, so re-sending has no effect to duplicate, and a bridge that is starting
    (or restarting) answers soon after."""
    deadline = asyncio.get_running_loop().time() + min(timeout, NO_RESPONDERS_PATIENCE)
    pause = 0.1
    while True:
        try:
            return await nc.request(subject, payload, timeout=timeout)
        except NoRespondersError:
            if asyncio.get_running_loop().time() + pause > deadline:
                raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 1.0)


async def request(
    servers: list[str],
    subjects: Subjects,
    command: str,
    payload: bytes,
    *,
    timeout: float,
    connect: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Request/reply: the reply is the outcome document (see `request_answered`)."""
    nc = await nats.connect(servers=servers, **(connect or {}))
    try:
        reply = await request_answered(nc, subjects.request(command), payload, timeout=timeout)
        return dict(json.loads(reply.data))
    finally:
        await nc.close()


async def publish_durable(
    servers: list[str],
    subjects: Subjects,
    command: str,
    payload: bytes,
    *,
    command_id: str,
    timeout: float,
    connect: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Durable: publish into the commands stream, then wait for this command's outcome event."""
    nc = await nats.connect(servers=servers, **(connect or {}))
    try:
        found: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()

        async def on_event(msg: Msg) -> None:
            event = json.loads(msg.data)
            data = event.get("data") or {}
            # command.retrying says it will be tried again: wait on for how it ends.
            final = msg.subject.rsplit(".", 1)[-1] in FINAL_EVENTS
            if final and data.get("commandId") == command_id and not found.done():
                found.set_result(data)

        sub = await nc.subscribe(subjects.event("command.*"), cb=on_event)
        ack = await nc.jetstream().publish(
            subjects.command(command), payload, headers={"Nats-Msg-Id": command_id}
        )
        if ack.duplicate:
            raise RuntimeError(
                f"the stream already has commandId {command_id!r} from the last few minutes"
            )
        try:
            return await asyncio.wait_for(found, timeout)
        finally:
            await sub.unsubscribe()
    finally:
        await nc.close()


def ensure_command_id(payload: dict[str, Any], command_id: str | None) -> str:
    """The commandId the command carries (explicit flag > body > a fresh one), written into the body."""
    chosen = command_id or payload.get("commandId") or f"cli-{uuid.uuid4()}"
    payload["commandId"] = chosen
    return str(chosen)
