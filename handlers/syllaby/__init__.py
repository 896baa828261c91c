"""Syllaby Text-to-Scene handlers: one table-driven call for every command, then its watches.

The call is the command model's own (`method`, `route`, body); `WATCHES` says what each command
starts following, per the contract ("followed after"). The command ledger (bridge/ledger) runs
around the handlers of the commands that need it; a handler never knows whether it is replayed.
"""

from __future__ import annotations

from typing import Any

from bridge.http.errors import RequestValidationError
from bridge.providers.syllaby.client import SyllabyClient
from handlers.base import CommandContext, Handler, Reply
from handlers.syllaby.watching import WATCHES, arm
from schemas.syllaby.commands import SYLLABY_COMMANDS, SyllabyCommand


def client_of(ctx: CommandContext) -> SyllabyClient:
    if ctx.syllaby is None:  # answered invalid_command, naming the fix
        raise RequestValidationError(
            "the syllaby provider is off: set SYLLABY_API_TOKEN and SYLLABY_BASE_URL, or run "
            "with --sandbox",
            field="provider",
        )
    return ctx.syllaby


async def call(cmd: Any, ctx: CommandContext) -> Reply:
    command: SyllabyCommand = cmd
    reply = await client_of(ctx).send(command)
    await arm(command, reply.raw, ctx)
    return reply


HANDLERS: dict[str, Handler] = {model.command: call for model in SYLLABY_COMMANDS}

__all__ = ["HANDLERS", "WATCHES", "arm", "call", "client_of"]
