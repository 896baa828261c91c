"""Syllaby Text-to-Scene handlers: one table-driven call for every command, then its watches.

The call is the command model's own (`method`, `route`, body); `WATCHES` says what each command
starts following, per the contract ("followed after"). The command ledger (bridge/ledger) runs
around the handlers of the commands that need it; a handler never knows whether it is replayed.
"""

from __future__ import annotations

from bridge.http.errors import RequestValidationError
from bridge.providers.syllaby.client import SyllabyClient
from handlers.base import CommandContext, CommandHandler, CommandReply, handler_table, handles
from handlers.syllaby.watching import WATCHES, arm
from schemas.syllaby.commands import SYLLABY_COMMANDS, SyllabyCommand


def client_of(ctx: CommandContext) -> SyllabyClient:
    client = ctx.clients.get("syllaby")
    if not isinstance(client, SyllabyClient):  # answered invalid_command, naming the fix
        raise RequestValidationError(
            "the syllaby provider is off: set SYLLABY_API_TOKEN and SYLLABY_BASE_URL, or run "
            "with --sandbox",
            field="provider",
        )
    return client


async def call(cmd: SyllabyCommand, ctx: CommandContext) -> CommandReply:
    reply = await client_of(ctx).send(cmd)
    await arm(cmd, reply.raw, ctx)
    return reply


HANDLERS: dict[str, CommandHandler] = handler_table(
    *(handles(model, call) for model in SYLLABY_COMMANDS)
)

__all__ = ["HANDLERS", "WATCHES", "arm", "call", "client_of"]
