"""`echo.thing.create` (model, call and handler in one place) and watch.add/watch.remove of things."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import Field

from bridge.http.errors import NotFound
from bridge.http.routes import Endpoint
from handlers.base import CommandContext, CommandReply, handler_table, handles
from handlers.watches import singly
from schemas.wire.commands import Command, WatchAddCommand, WatchCommand
from storybridge_echo.client import EchoClient
from storybridge_echo.watch import NAME


class ThingCreateCommand(Command):
    """Start a thing (POST /things); watched until it is ready."""

    command = "echo.thing.create"
    provider: ClassVar[str] = NAME  # the intake's route gates and circuits go by it
    name: Annotated[str, Field(min_length=1, max_length=200)]


async def create(cmd: ThingCreateCommand, ctx: CommandContext) -> CommandReply:
    reply = await ctx.client(EchoClient).create_thing(cmd.name, idempotency_key=ctx.idempotency_key)
    await ctx.watches.watch("thing", str(reply.raw["id"]), provider=NAME)
    return reply


COMMANDS = handler_table(handles(ThingCreateCommand, create, Endpoint("POST", "things", "key")))


async def _read(cmd: WatchAddCommand, ctx: CommandContext, id: str) -> None:
    await ctx.client(EchoClient).get_thing(id)


class EchoWatchTargets:
    resources = frozenset({"thing"})
    integer_ids = False

    async def existing(self, cmd: WatchAddCommand, ctx: CommandContext, ids: list[str]) -> set[str]:
        return await singly(_read, cmd, ctx, ids)

    def missing(self, cmd: WatchAddCommand, ids: list[str]) -> Exception:
        return NotFound(f"thing {', '.join(ids)} not found", code="not_found", status=404)

    async def start(self, cmd: WatchAddCommand, ctx: CommandContext, id: str) -> None:
        await ctx.watches.watch("thing", id, provider=NAME)

    def describe(self, cmd: WatchCommand) -> dict[str, Any]:
        return {"provider": NAME, "resource": str(cmd.resource), "id": cmd.id}
