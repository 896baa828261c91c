"""Every command of every provider, by its contract name (`<resource>.<action>`, the subject suffix)."""

from __future__ import annotations

import re

from schemas.story.commands import STORY_COMMANDS
from schemas.story.commands_pipeline import PIPELINE_COMMANDS
from schemas.story.reads import READ_COMMANDS
from schemas.syllaby.commands import SYLLABY_COMMANDS
from schemas.wire.commands import (
    AdminRedriveCommand,
    AdminWatchesCommand,
    Command,
    UnknownCommand,
    WatchAddCommand,
    WatchRemoveCommand,
)
from schemas.wire.status import AdminStatusCommand

_MODELS: tuple[type[Command], ...] = (
    *STORY_COMMANDS,
    WatchAddCommand,
    WatchRemoveCommand,
    AdminRedriveCommand,
    AdminWatchesCommand,
    AdminStatusCommand,
    *READ_COMMANDS,
    # project additions (docs/CONTRACT.md "Project additions")
    *PIPELINE_COMMANDS,
    # the second provider (CONTRACT.md, "The second provider: Syllaby Text-to-Scene")
    *SYLLABY_COMMANDS,
)
COMMAND_MODELS: dict[str, type[Command]] = {model.command: model for model in _MODELS}
"""Every command of the contract, by its `<resource>.<action>` name (the subject suffix)."""


def _route(model: type[Command]) -> str | None:
    match = re.search(r"\(((?:GET|POST|PATCH|PUT|DELETE) /[^)]+)\)", model.__doc__ or "")
    return match.group(1) if match else None


COMMAND_ROUTES: dict[str, str | None] = {name: _route(m) for name, m in COMMAND_MODELS.items()}
"""The API route each command calls, for logs and metrics (from the model docstrings)."""


def parse_command(name: str, payload: dict[str, object]) -> Command:
    """Validate `payload` as command `name` (pydantic's ValidationError names the field)."""
    model = COMMAND_MODELS.get(name)
    if model is None:
        raise UnknownCommand(f"unknown command {name!r}")
    return model.model_validate(payload)
