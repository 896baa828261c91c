"""series_bible.generate / series_bible.update."""

from __future__ import annotations

from typing import Any

from handlers.base import CommandContext, CommandReply


async def generate(cmd: Any, ctx: CommandContext) -> CommandReply:
    return await ctx.api.generate_series_bible(
        cmd.projectId, cmd.body(), idempotency_key=ctx.idempotency_key
    )


async def update(cmd: Any, ctx: CommandContext) -> CommandReply:
    return await ctx.api.update_series_bible(
        cmd.projectId, cmd.body(), idempotency_key=ctx.idempotency_key
    )


HANDLERS = {"series_bible.generate": generate, "series_bible.update": update}
