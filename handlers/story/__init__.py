"""Story API handlers, one module per resource; `handlers.story.plugin` registers them."""

from __future__ import annotations

from bridge.providers.story.client import StoryClient
from handlers.base import CommandContext


def story(ctx: CommandContext) -> StoryClient:
    """The Story API client of the run (the command's provider is Story for every handler here)."""
    return ctx.client(StoryClient, "story")
