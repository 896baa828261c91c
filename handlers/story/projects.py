"""project.create / project.update / project.delete."""

from __future__ import annotations

from typing import Any

from handlers.base import CommandContext, CommandReply


async def create(cmd: Any, ctx: CommandContext) -> CommandReply:
    return await ctx.api.create_project(cmd.body(), idempotency_key=ctx.idempotency_key)


async def update(cmd: Any, ctx: CommandContext) -> CommandReply:
    return await ctx.api.update_project(
        cmd.projectId, cmd.body(), idempotency_key=ctx.idempotency_key
    )


async def delete(cmd: Any, ctx: CommandContext) -> CommandReply:
    return await ctx.api.delete_project(cmd.projectId, idempotency_key=ctx.idempotency_key)


HANDLERS = {"project.create": create, "project.update": update, "project.delete": delete}
