"""`storybridge asyncapi` and `storybridge schemas`: the contract as documents."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from bridge.cli.options import SubjectPrefix

console = Console()


def asyncapi(
    output: Path | None = typer.Option(
        None, "--output", "-o", help="Write here instead of stdout."
    ),
    subject_prefix: SubjectPrefix = "story",
) -> None:
    """Export the AsyncAPI document of every command and event subject."""
    from bridge.asyncapi import asyncapi_document

    text = json.dumps(asyncapi_document(subject_prefix), indent=2)
    if output:
        output.write_text(text + "\n")
        console.print(f"wrote {output}")
    else:
        print(text)


def schemas(
    directory: Path = typer.Argument(..., help="Where to write the JSON Schema files."),
) -> None:
    """Write the contract as JSON Schema files: every command payload, the reply, every event."""
    from bridge.asyncapi import event_subject_suffixes
    from schemas.catalog import COMMAND_MODELS
    from schemas.contract import json_schemas

    directory.mkdir(parents=True, exist_ok=True)
    files = json_schemas(event_subject_suffixes(), dict(COMMAND_MODELS))
    for name, schema in sorted(files.items()):
        (directory / name).write_text(json.dumps(schema, indent=2) + "\n")
    console.print(f"wrote {len(files)} JSON Schema files to {directory}")
