"""Thin command handlers, one module per resource: validate -> call the client -> start a watch -> outcome.

`HANDLERS` maps every contract command name (`<resource>.<action>`) to its handler.
"""

from __future__ import annotations

from handlers import admin, syllaby, watches
from handlers.base import CommandHandler
from handlers.story import (
    artifacts,
    jobs,
    pipeline,
    plans,
    projects,
    reads,
    series_bible,
    sources,
)

HANDLERS: dict[str, CommandHandler] = {
    **projects.HANDLERS,
    **sources.HANDLERS,
    **plans.HANDLERS,
    **jobs.HANDLERS,
    **artifacts.HANDLERS,
    **series_bible.HANDLERS,
    **watches.HANDLERS,
    **admin.HANDLERS,
    # project additions (docs/CONTRACT.md "Project additions")
    **pipeline.HANDLERS,
    **reads.HANDLERS,
    # the second provider (CONTRACT.md, "The second provider: Syllaby Text-to-Scene")
    **syllaby.HANDLERS,
}
