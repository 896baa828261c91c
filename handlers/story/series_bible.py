"""series_bible.generate / series_bible.update: one call each, nothing to watch."""

from __future__ import annotations

from bridge.providers.story.client import StoryClient as Api
from handlers.base import calls, handler_table
from schemas.story import commands as c

HANDLERS = handler_table(
    calls(c.SeriesBibleGenerateCommand, Api.generate_series_bible),
    calls(c.SeriesBibleUpdateCommand, Api.update_series_bible),
)
