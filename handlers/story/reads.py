"""Read commands: one table-driven handler for every documented GET (`schemas.story.commands.READ_COMMANDS`).

The route and query come from the command model, the answer is the API's JSON as returned (the
outcome's `result`), and nothing is watched: a read changes nothing, so it carries no
Idempotency-Key either.
"""

from __future__ import annotations

from bridge.http.routes import Endpoint, seg
from handlers.base import CommandContext, CommandReply, handler_table, handles
from handlers.story import story
from schemas.story.reads import READ_COMMANDS
from schemas.wire.commands import ReadCommand


async def read(cmd: ReadCommand, ctx: CommandContext) -> CommandReply:
    path = cmd.route.format(**{k: seg(v) for k, v in cmd.path().items()})
    return await story(ctx).request("GET", path, params=cmd.query() or None, template=cmd.route)


# A read's route is its model's (`ReadCommand.route`): the row declares it from there, one GET each.
HANDLERS = handler_table(
    *(handles(model, read, Endpoint("GET", model.route, "none")) for model in READ_COMMANDS)
)
