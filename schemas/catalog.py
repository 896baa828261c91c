"""Every command of every provider, by its contract name (`<resource>.<action>`, the subject suffix)."""

from __future__ import annotations

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


def _routes() -> dict[str, str | None]:
    # The route is what each provider's handler row declares (`handlers.base`, read structurally:
    # schemas sits below the handlers); the core's own commands call no API.
    routes: dict[str, str | None] = dict.fromkeys((model.command for model in CORE_MODELS), None)
    for item in plugins.installed():
        for name, handler in item.provider.commands.items():
            endpoint = getattr(handler, "endpoint", None)
            routes[name] = str(endpoint) if endpoint is not None else None
    return routes


COMMAND_ROUTES: plugins.Table[str | None] = plugins.Table(_routes)
"""The API call each command makes (`POST /story-jobs`), for logs, from its handler row."""


def parse_command(name: str, payload: dict[str, object]) -> Command:
    """Validate `payload` as command `name` (pydantic's ValidationError names the field)."""
    model = COMMAND_MODELS.get(name)
    if model is None:
        raise UnknownCommand(f"unknown command {name!r}")
    return model.model_validate(payload)
