"""Thin command handlers: validate -> call the client -> start a watch -> outcome.

`HANDLERS` maps every command name (`<resource>.<action>`) to its handler: the core's own (watch.*,
admin.*) and every installed provider's command table (bridge/plugins.py).
"""

from __future__ import annotations

from bridge import plugins
from handlers import admin, watches
from handlers.base import CommandHandler


def _handlers() -> dict[str, CommandHandler]:
    table: dict[str, CommandHandler] = {**watches.HANDLERS, **admin.HANDLERS}
    for item in plugins.installed():
        taken = sorted(set(item.provider.commands) & set(table))
        if taken:  # a provider's row would silently replace the core's own handler
            raise plugins.ProviderError(
                f"provider {item.name!r} declares the core's command(s) {', '.join(taken)}"
            )
        table.update(item.provider.commands)
    return table


HANDLERS: plugins.Table[CommandHandler] = plugins.Table(_handlers)
