"""Every command of every provider, by its contract name (`<resource>.<action>`, the subject suffix)."""

from __future__ import annotations

import re

from bridge import plugins
from schemas.wire.commands import (
    AdminRedriveCommand,
    AdminWatchesCommand,
    Command,
    UnknownCommand,
    WatchAddCommand,
    WatchRemoveCommand,
)
from schemas.wire.status import AdminStatusCommand

# The core's own commands; every other comes from an installed provider's command table.
CORE_MODELS: tuple[type[Command], ...] = (
    WatchAddCommand,
    WatchRemoveCommand,
    AdminRedriveCommand,
    AdminWatchesCommand,
    AdminStatusCommand,
)


def _models() -> dict[str, type[Command]]:
    models = {model.command: model for model in CORE_MODELS}
    for item in plugins.installed():
        models.update({name: handler.model for name, handler in item.provider.commands.items()})
    return models


COMMAND_MODELS: plugins.Table[type[Command]] = plugins.Table(_models)
"""Every command of the contract, by its `<resource>.<action>` name (the subject suffix)."""


def _route(model: type[Command]) -> str | None:
    match = re.search(r"\(((?:GET|POST|PATCH|PUT|DELETE) /[^)]+)\)", model.__doc__ or "")
    return match.group(1) if match else None


COMMAND_ROUTES: plugins.Table[str | None] = plugins.Table(
    lambda: {name: _route(m) for name, m in COMMAND_MODELS.items()}
)
"""The API route each command calls, for logs and metrics (from the model docstrings)."""


def parse_command(name: str, payload: dict[str, object]) -> Command:
    """Validate `payload` as command `name` (pydantic's ValidationError names the field)."""
    model = COMMAND_MODELS.get(name)
    if model is None:
        raise UnknownCommand(f"unknown command {name!r}")
    return model.model_validate(payload)
