"""`storybridge redrive`: dead letters back onto their command subjects, straight through NATS.

It needs no running bridge: the dead letters and the commands stream are all it touches.
"""

from __future__ import annotations

from datetime import datetime

import nats

from bridge.names import Subjects
from bridge.nats.deadletters import DeadLetters, RedriveReport
from bridge.nats.outcomes import OutcomePublisher


async def redrive(
    servers: list[str],
    prefix: str,
    *,
    command: str | None = None,
    since: datetime | None = None,
    dry_run: bool = False,
) -> RedriveReport:
    nc = await nats.connect(servers=servers)
    try:
        js = nc.jetstream()
        subjects = Subjects(prefix)
        # Redrive buries nothing, so its publisher's event source is never used.
        dead_letters = DeadLetters(nc, js, subjects, OutcomePublisher(js, subjects, source=""))
        return await dead_letters.redrive(command=command, since=since, dry_run=dry_run)
    finally:
        await nc.drain()
