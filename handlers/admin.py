"""admin.redrive: put dead letters back on their command subjects (no API call).
admin.watches: what the bridge is watching, across every replica (read from the watch bucket).
admin.status: the fleet as NATS shows it (bridge/nats/fleet_report.py), for `storybridge status`."""

from __future__ import annotations

from handlers.base import CommandContext, CommandReply, LocalReply, handler_table, handles
from schemas.wire.commands import AdminRedriveCommand, AdminWatchesCommand
from schemas.wire.status import AdminStatusCommand


class AdminUnavailable(RuntimeError):
    """This executor was built without dead-letter access or the fleet view (a bug in the
    wiring, not the input)."""


async def redrive(cmd: AdminRedriveCommand, ctx: CommandContext) -> CommandReply:
    if ctx.dead_letters is None:
        raise AdminUnavailable("admin.redrive needs the dead-letter stream")
    report = await ctx.dead_letters.redrive(
        command=cmd.filter_command, since=cmd.since, dry_run=cmd.dryRun
    )
    return LocalReply(raw=report.to_dict())


async def watches(cmd: AdminWatchesCommand, ctx: CommandContext) -> CommandReply:
    found, next_cursor = await ctx.watches.list(
        provider=cmd.provider,
        resource=cmd.resource,
        state=cmd.state,
        cursor=cmd.cursor,
        limit=cmd.limit,
    )
    return LocalReply(raw={"watches": found, "nextCursor": next_cursor})


async def status(cmd: AdminStatusCommand, ctx: CommandContext) -> CommandReply:
    if ctx.status is None:
        raise AdminUnavailable("admin.status needs the fleet reporter")
    return LocalReply(raw=await ctx.status.fleet_status(dead_letter_sample=cmd.deadLetterSample))


HANDLERS = handler_table(
    handles(AdminRedriveCommand, redrive),
    handles(AdminWatchesCommand, watches),
    handles(AdminStatusCommand, status),
)
