"""Options that several verbs take, declared once so that every verb spells them the same."""

from __future__ import annotations

from typing import Annotated

import typer

SubjectPrefix = Annotated[
    str,
    typer.Option("--subject-prefix", "--prefix", envvar="STORYBRIDGE_SUBJECT_PREFIX"),
]
"""The first subject token of the bridge to talk to (default `story`, as the bridge's)."""

NatsUrl = Annotated[str | None, typer.Option(help="NATS URL (default: the local bridge's).")]
"""The NATS server a client verb connects to; None: the local bridge's (see `_servers`)."""
