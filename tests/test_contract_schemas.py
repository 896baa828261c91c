"""The typed contract: real events and replies of the happy path validate against the exported
JSON Schemas (`storybridge schemas DIR`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
from nats.aio.client import Client as NatsClient
from rich.console import Console

from bridge.cli.demo_kit import EventWaiter, Session
from bridge.names import EVENTS_STREAM
from bridge.providers.story.demo import walk_happy_path
from tests.fixtures.bridge import SUBJECTS, StartBridge


def _export(directory: Path) -> dict[str, Any]:
    subprocess.run(
        [sys.executable, "-m", "bridge.cli.app", "schemas", str(directory)],
        check=True,
        capture_output=True,
    )
    return {p.name: json.loads(p.read_text()) for p in directory.glob("*.json")}


def _check(schema: dict[str, Any], document: Any) -> None:
    jsonschema.validate(
        document, schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def test_every_command_event_and_the_reply_have_a_schema_file(tmp_path: Path) -> None:
    """One file per command payload, per event subject, and the outcome reply; each a valid schema."""
    schemas = _export(tmp_path)
    assert "reply.outcome.json" in schemas
    assert {"command.project.create.json", "command.job.get.json"} <= set(schemas)
    assert {"event.job.ready.json", "event.command.succeeded.json"} <= set(schemas)
    for schema in schemas.values():
        jsonschema.Draft202012Validator.check_schema(schema)
    job_ready = schemas["event.job.ready.json"]
    assert job_ready["properties"]["data"] == {"$ref": "#/$defs/JobEventData"}


async def test_happy_path_events_and_replies_validate_against_the_exported_schemas(
    tmp_path: Path, start_bridge: StartBridge, nc: NatsClient
) -> None:
    schemas = _export(tmp_path / "schemas")
    await start_bridge()
    waiter = EventWaiter(Console(quiet=True))
    await nc.subscribe(SUBJECTS.event(">"), cb=waiter.on_msg)
    await walk_happy_path(Session(nc, SUBJECTS, Console(quiet=True), waiter, 60))

    for command, payload in [
        ("project.create", {"name": "typed"}),
        ("plan.approve", {"planId": "cmpl_missing"}),  # an ok:false reply validates too
        ("credits.get", {}),
    ]:
        _check(schemas[f"command.{command}.json"], payload)
        reply = await nc.request(SUBJECTS.request(command), json.dumps(payload).encode(), 30)
        _check(schemas["reply.outcome.json"], json.loads(reply.data))

    js = nc.jetstream()
    info = await js.stream_info(EVENTS_STREAM)
    checked: set[str] = set()
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(EVENTS_STREAM, seq)
        suffix = msg.subject.removeprefix(f"{SUBJECTS.prefix}.evt.")
        _check(schemas[f"event.{suffix}.json"], json.loads(msg.data or b""))
        checked.add(suffix.split(".")[0])
    assert {"plan", "job", "artifact", "command", "source"} <= checked
