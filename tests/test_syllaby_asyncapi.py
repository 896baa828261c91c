"""The Syllaby commands and events are in the AsyncAPI document, with typed payloads."""

from __future__ import annotations

from typing import Any

from bridge.asyncapi import asyncapi_document
from bridge.providers.syllaby.channels import SYLLABY_EVENT_SUBJECTS
from schemas.contract import SyllabyEvent, event_model
from schemas.syllaby.commands import SYLLABY_COMMANDS


def _addresses() -> dict[str, Any]:
    return {c["address"]: c for c in asyncapi_document()["channels"].values()}


def test_every_syllaby_command_has_a_durable_and_a_request_channel() -> None:
    addresses = _addresses()
    for model in SYLLABY_COMMANDS:
        for kind in ("cmd", "req", "dlq"):
            assert f"story.{kind}.{model.command}" in addresses, (kind, model.command)


def test_syllaby_events_are_channels_known_statuses_and_any_other() -> None:
    addresses = _addresses()
    for base, statuses in SYLLABY_EVENT_SUBJECTS.items():
        assert f"story.evt.{base}.*" in addresses
        for status in statuses:
            channel = addresses[f"story.evt.{base}.{status}"]
            assert "io.syllaby." in channel["description"]
    assert "story.evt.syllaby.scene.clip_generating" in addresses


def test_syllaby_event_payloads_are_typed() -> None:
    assert event_model("syllaby.storyboard.video.completed") is SyllabyEvent
    schema = SyllabyEvent.model_json_schema()
    data = schema["$defs"]["SyllabyEventData"]["properties"]
    assert {"provider", "storyboardId", "status", "previousStatus", "snapshot"} <= set(data)
