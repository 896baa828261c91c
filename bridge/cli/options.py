"""Options that several verbs take, declared once so that every verb spells them the same, and the
NATS connection they resolve to (app.py and status.py both need it; status importing it from app.py
while app.py imports status was a loop)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from bridge.config import BridgeSettings

SubjectPrefix = Annotated[
    str,
    typer.Option("--subject-prefix", "--prefix", envvar="STORYBRIDGE_SUBJECT_PREFIX"),
]
"""The first subject token of the bridge to talk to (default `story`, as the bridge's)."""

NatsUrl = Annotated[str | None, typer.Option(help="NATS URL (default: the local bridge's).")]
"""The NATS server a client verb connects to; None: the local bridge's (see `nats_servers`)."""


def nats_servers(nats_url: str | None, data_dir: Path | None = None) -> list[str]:
    """An explicit URL, else a local `storybridge run`'s embedded server, else the NATS default."""
    from bridge.nats.embedded import discover_url

    url = nats_url or os.environ.get("STORYBRIDGE_NATS_URL")
    url = url or discover_url(data_dir or BridgeSettings().data_dir) or "nats://127.0.0.1:4222"
    return [u.strip() for u in url.split(",") if u.strip()]


def client_connect_options() -> dict[str, Any]:
    """NATS credentials and TLS from the same STORYBRIDGE_NATS_* settings the bridge uses."""
    from bridge.nats.connection import connect_options

    return connect_options(BridgeSettings())
