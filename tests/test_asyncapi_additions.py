"""The project's additions are in the AsyncAPI document and agree with docs/CONTRACT.md."""

from __future__ import annotations

import re
from pathlib import Path

from bridge.asyncapi import asyncapi_document
from bridge.providers.story.channels import PROJECT_EVENT_SUBJECTS
from schemas.story.commands_pipeline import PIPELINE_COMMANDS

CONTRACT = Path(__file__).resolve().parents[1] / "docs" / "CONTRACT.md"


def _project_event_table() -> dict[str, set[str]]:
    """`{p}.evt.<suffix>.<status>` rows of the additions' events table -> their statuses."""
    project = CONTRACT.read_text().partition("\n## Project additions")[2]
    rows: dict[str, set[str]] = {}
    for match in re.finditer(
        r"^\| `\{p\}\.evt\.([a-z_.]+?)\.(<status>|[a-z_]+)` \| ([^|]+)\|", project, re.M
    ):
        suffix, status, cell = match.groups()
        statuses = cell.split(":")[0] if status == "<status>" else status
        rows[suffix] = {s.strip() for s in statuses.split(",") if s.strip()}
    return rows


def test_every_added_command_has_a_durable_and_a_request_channel() -> None:
    """cmd.<name> and req.<name> exist for each project-added command."""
    channels = asyncapi_document()["channels"]
    for model in PIPELINE_COMMANDS:
        assert f"cmd.{model.command}" in channels and f"req.{model.command}" in channels


def test_every_added_event_subject_is_documented_with_its_statuses() -> None:
    """Each (facet, status) of the additions' events table is an AsyncAPI channel, and the
    table and the document list the same statuses."""
    channels = asyncapi_document()["channels"]
    table = _project_event_table()
    assert {k: set(v) for k, v in PROJECT_EVENT_SUBJECTS.items()} == table
    for suffix, statuses in table.items():
        for status in statuses:
            assert f"evt.{suffix}.{status}" in channels


def test_the_no_command_lost_and_circuit_subjects_are_documented() -> None:
    """command.retrying/dead_lettered, bridge.degraded/recovered, the dead-letter subjects and the
    admin.redrive request are channels of the document (CONTRACT.md additions of 2026-12-01)."""
    channels = asyncapi_document()["channels"]
    addresses = {c["address"] for c in channels.values()}
    for suffix in (
        "command.retrying",
        "command.dead_lettered",
        "bridge.degraded",
        "bridge.recovered",
    ):
        assert f"story.evt.{suffix}" in addresses
    assert "story.dlq.project.create" in addresses
    assert "story.req.admin.redrive" in addresses
