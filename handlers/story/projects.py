"""project.create / project.update / project.delete: one call each, nothing to watch."""

from __future__ import annotations

from bridge.providers.story.client import StoryClient as Api
from handlers.base import calls, handler_table
from schemas.story import commands as c

HANDLERS = handler_table(
    calls(c.ProjectCreateCommand, Api.create_project),
    calls(c.ProjectUpdateCommand, Api.update_project),
    calls(c.ProjectDeleteCommand, Api.delete_project),
)
